/* 64-bit entry: ferry starts every vCPU here in long mode with rdi = vCPU index and
 * rsi = vCPU count. Each vCPU gets its own 16 KiB stack. */
#define STACK_SHIFT 14
#define MAX_VCPUS 16

.code64
.section .text.start, "ax"
.global _start
_start:
  cmp $MAX_VCPUS, %rdi
  jae park
  lea stacks_end(%rip), %rsp
  mov %rdi, %rax
  shl $STACK_SHIFT, %rax
  sub %rax, %rsp
  call guest_main
  out %al, $0xf4
park:
  cli
  hlt
  jmp park

.section .bss
.balign 4096
stacks:
  .space (1 << STACK_SHIFT) * MAX_VCPUS
stacks_end:

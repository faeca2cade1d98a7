/* 32-bit entry: ferry starts every vCPU here in flat protected mode with edi = vCPU index and
 * esi = vCPU count. Each vCPU gets its own 16 KiB stack. */
#define STACK_SHIFT 14
#define MAX_VCPUS 16

.code32
.section .text.start, "ax"
.global _start
_start:
  cmp $MAX_VCPUS, %edi
  jae park
  mov $stacks_end, %esp
  mov %edi, %eax
  shl $STACK_SHIFT, %eax
  sub %eax, %esp
  push %esi
  push %edi
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

/* Real-mode entry for C compiled with gcc -m16: ferry starts vCPU 0 here at 0000:8000 with
 * edi = vCPU index and esi = vCPU count. Segments are zero, so linear = offset. One vCPU only. */
.code16
.section .text.start, "ax"
.global _start
_start:
  cli
  xor %ax, %ax
  mov %ax, %ds
  mov %ax, %es
  mov %ax, %ss
  mov $stack_end, %esp
  pushl %esi
  pushl %edi
  calll guest_main
  out %al, $0xf4
park:
  cli
  hlt
  jmp park

.section .bss
.balign 16
  .space 4096
stack_end:

/* exitloop: the benchmark guest. A flat 64 KiB real-mode image that runs at F000:0000 in ferry
 * and as a -bios image in QEMU (the reset vector at F000:FFF0 jumps to F000:0000).
 * It prints '!' (its first instruction: benchmarks time process start to that byte), then does
 * `pio_exits` port writes to 0x80 and `mmio_exits` byte writes to 0xA0000 (the legacy VGA hole,
 * unclaimed in both VMMs), then writes 0 to the exit port. Benchmarks patch the two counts. */
.code16
.section .text
.global _start
_start:
  mov $0x3f8, %dx
  mov $'!', %al
  out %al, %dx
  cli
  mov %cs, %ax
  mov %ax, %ds
  movl (pio_exits - _start), %ecx
  test %ecx, %ecx
  jz 2f
1:
  out %al, $0x80
  dec %ecx
  jnz 1b
2:
  mov $0xa000, %ax
  mov %ax, %es
  movl (mmio_exits - _start), %ecx
  test %ecx, %ecx
  jz 4f
3:
  movb %al, %es:0
  dec %ecx
  jnz 3b
4:
  xor %al, %al
  out %al, $0xf4
5:
  hlt
  jmp 5b

/* Parameters at fixed offsets (see bench/exitloop_image.h). */
.org 0xffe0
pio_exits:
  .long 0
mmio_exits:
  .long 0
.org 0xfff0
reset_vector:
  ljmp $0xf000, $0x0000
.org 0x10000

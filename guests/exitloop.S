/* exitloop: the benchmark guest. A flat 64 KiB image that runs at F000:0000 in ferry and as a
 * -bios image in QEMU (the reset vector at F000:FFF0 jumps to F000:0000). Both put it at
 * 0xf0000.
 *
 * Its first instruction writes '!' to COM1 (benchmarks time process start to that byte). It
 * then enters flat 32-bit protected mode, does `pio_exits` writes to port 0x80 and `mmio_exits`
 * byte reads from 0xfe000000, and writes 0 to the exit port. Benchmarks patch the two counts.
 * The MMIO address is one no VMM backs with memory (QEMU's pc machine has RAM or ROM everywhere
 * below 16 MiB, even in the VGA hole). Reads, not writes: a VMM may batch writes in the kernel
 * (coalesced MMIO) without an exit, but a read always needs the VMM's answer. */
#define LOAD 0xf0000
#define LINEAR(label) (LOAD + (label - _start))

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
  lgdtl (gdt_descriptor - _start)
  mov %cr0, %eax
  and $0x9fffffff, %eax  /* caches on (CD, NW clear), as firmware does */
  or $1, %eax            /* PE */
  mov %eax, %cr0
  ljmpl $0x08, $LINEAR(protected)

.code32
protected:
  mov $0x10, %ax
  mov %ax, %ds
  mov %ax, %es
  mov %ax, %ss
  mov LINEAR(pio_exits), %ecx
  test %ecx, %ecx
  jz 2f
1:
  out %al, $0x80
  dec %ecx
  jnz 1b
2:
  mov LINEAR(mmio_exits), %ecx
  test %ecx, %ecx
  jz 4f
3:
  movb 0xfe000000, %al
  dec %ecx
  jnz 3b
4:
  xor %al, %al
  out %al, $0xf4
5:
  hlt
  jmp 5b

.balign 8
/* Accessed bits preset: in QEMU the image is ROM, and a CPU that has to set the bit on a
 * segment load would write to it (an exit QEMU drops, so the load retries forever). */
gdt:
  .quad 0
  .quad 0x00cf9b000000ffff  /* 0x08: flat 32-bit code */
  .quad 0x00cf93000000ffff  /* 0x10: flat data */
gdt_descriptor:
  .word 3 * 8 - 1
  .long LINEAR(gdt)

/* Parameters at fixed offsets (guests/include/ferry/guests/exitloop.h). */
.org 0xffe0
pio_exits:
  .long 0
mmio_exits:
  .long 0
.org 0xfff0
.code16  /* QEMU enters here, in real mode, at F000:FFF0 */
reset_vector:
  ljmp $0xf000, $0x0000
.org 0x10000

/* Interrupts for 64-bit test guests: an IDT whose handlers count each vector and end it at the
 * LAPIC, and the LAPIC set-up. Include it from one source file per guest, after rt/guest.h. */
#ifndef FERRY_GUEST_INTERRUPTS_H
#define FERRY_GUEST_INTERRUPTS_H

#include "rt/guest.h"

#define LAPIC_BASE 0xfee00000u
#define LAPIC_ID 0x20
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define SPURIOUS_VECTOR 0xff

struct idt_gate {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t ist;
  uint8_t type_attr;
  uint16_t offset_mid;
  uint32_t offset_high;
  uint32_t reserved;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));
static volatile uint32_t received[256];

/* Called from the stubs with the vector number. */
void on_interrupt(uint64_t vector);
void on_interrupt(uint64_t vector) {
  received[vector & 0xff]++;
  mmio_write32(LAPIC_BASE + LAPIC_EOI, 0);
}

/* INTERRUPT_STUB(0x40) defines stub_0x40: it saves the caller-saved registers (keeping the stack
 * 16-byte aligned for the call), passes the vector, and returns with iretq. */
/* clang-format off */
#define INTERRUPT_STUB(v)                                                       \
  __asm__(".global stub_" #v "\nstub_" #v ":\n"                                 \
          "push %rax\npush %rcx\npush %rdx\npush %rsi\npush %rdi\n"              \
          "push %r8\npush %r9\npush %r10\npush %r11\n"                          \
          "mov $" #v ", %edi\ncall on_interrupt\n"                              \
          "pop %r11\npop %r10\npop %r9\npop %r8\n"                              \
          "pop %rdi\npop %rsi\npop %rdx\npop %rcx\npop %rax\niretq\n");         \
  void stub_##v(void);
/* clang-format on */

static UNUSED void set_gate(uint8_t vector, void (*handler)(void)) {
  uint64_t address = (uint64_t)handler;
  uint16_t cs;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  idt[vector] = (struct idt_gate){(uint16_t)address,         cs, 0, 0x8e, (uint16_t)(address >> 16),
                                  (uint32_t)(address >> 32), 0};
}

/* Loads the IDT, software-enables the LAPIC, accepts every priority, and enables interrupts. */
static UNUSED void interrupts_on(void) {
  struct {
    uint16_t limit;
    uint64_t base;
  } __attribute__((packed)) idtr = {sizeof idt - 1, (uint64_t)idt};
  __asm__ volatile("lidt %0" ::"m"(idtr));
  mmio_write32(LAPIC_BASE + LAPIC_SVR, 0x100 | SPURIOUS_VECTOR);
  mmio_write32(LAPIC_BASE + LAPIC_TPR, 0);
  __asm__ volatile("sti");
}

static UNUSED uint32_t lapic_id(void) { return mmio_read32(LAPIC_BASE + LAPIC_ID) >> 24; }

/* Spins until `vector` has arrived `count` times in all; 0 if it does not within ~1e9 spins. */
static UNUSED int wait_for(uint8_t vector, uint32_t count) {
  for (uint64_t spins = 0; spins < 1000000000ull; ++spins) {
    if (received[vector] >= count) return 1;
    cpu_relax();
  }
  return 0;
}

#endif

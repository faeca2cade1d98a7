/* Interrupt plumbing for 64-bit test guests: an IDT, handler stubs that call a C function with
 * the vector, and the local APIC registers the guests use. */
#ifndef FERRY_INTERRUPTS64_H
#define FERRY_INTERRUPTS64_H

#include "rt/guest.h"

#define LAPIC_BASE 0xfee00000u
#define LAPIC_ID 0x20
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0

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

/* Each guest defines the handler the stubs call. */
void on_interrupt(uint64_t vector);

/* INTERRUPT_STUB(0x40) defines stub_0x40: saves the caller-saved registers (which keeps the stack
 * 16-byte aligned for the call), calls on_interrupt(vector) and returns with iretq. */
#define INTERRUPT_STUB(v)                                           \
  void stub_##v(void);                                              \
  __asm__(".global stub_" #v "\nstub_" #v                           \
          ":\n"                                                     \
          "push %rax\npush %rcx\npush %rdx\npush %rsi\npush %rdi\n" \
          "push %r8\npush %r9\npush %r10\npush %r11\n"              \
          "mov $" #v                                                \
          ", %edi\ncall on_interrupt\n"                             \
          "pop %r11\npop %r10\npop %r9\npop %r8\n"                  \
          "pop %rdi\npop %rsi\npop %rdx\npop %rcx\npop %rax\niretq\n");

static UNUSED void set_gate(uint8_t vector, void (*handler)(void)) {
  uint64_t address = (uint64_t)handler;
  uint16_t cs;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  idt[vector] = (struct idt_gate){(uint16_t)address,         cs, 0, 0x8e, (uint16_t)(address >> 16),
                                  (uint32_t)(address >> 32), 0};
}

static UNUSED void load_idt(void) {
  struct {
    uint16_t limit;
    uint64_t base;
  } __attribute__((packed)) idtr = {sizeof idt - 1, (uint64_t)idt};
  __asm__ volatile("lidt %0" ::"m"(idtr));
}

/* Software-enables the local APIC, accepts every priority, and turns interrupts on. */
static UNUSED void enable_lapic_and_interrupts(void) {
  mmio_write32(LAPIC_BASE + LAPIC_SVR, 0x100 | 0xff);
  mmio_write32(LAPIC_BASE + LAPIC_TPR, 0);
  __asm__ volatile("sti");
}

static UNUSED uint32_t lapic_id(void) { return mmio_read32(LAPIC_BASE + LAPIC_ID) >> 24; }
static UNUSED void lapic_eoi(void) { mmio_write32(LAPIC_BASE + LAPIC_EOI, 0); }

/* ferry's IOAPIC: registers through the select/window pair. */
#define IOAPIC_BASE 0xfec00000u
#define IOAPIC_SELECT 0x00
#define IOAPIC_WINDOW 0x10
#define IOAPIC_REDIRECTION 0x10 /* entry n: 0x10 + 2n (low dword), + 1 (high) */

static UNUSED uint32_t ioapic_read(uint32_t index) {
  mmio_write32(IOAPIC_BASE + IOAPIC_SELECT, index);
  return mmio_read32(IOAPIC_BASE + IOAPIC_WINDOW);
}
static UNUSED void ioapic_write(uint32_t index, uint32_t value) {
  mmio_write32(IOAPIC_BASE + IOAPIC_SELECT, index);
  mmio_write32(IOAPIC_BASE + IOAPIC_WINDOW, value);
}

#endif

/* irq: takes MSIs from the ferry test device in an IDT handler. The device sends them through
 * the hypervisor's MSI routing and an irqfd, so this exercises the whole interrupt path. Two
 * vectors are used so that a route change is exercised too. Exits 0, or 10+ on failure. */
#include "rt/guest.h"

#define LAPIC_BASE 0xfee00000u
#define LAPIC_ID 0x20
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define SPURIOUS_VECTOR 0xff
#define VECTOR_A 0x40
#define VECTOR_B 0x51

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

/* Called from the assembly stubs below with the vector number. */
void on_interrupt(uint64_t vector) {
  received[vector & 0xff]++;
  mmio_write32(LAPIC_BASE + LAPIC_EOI, 0);
}

/* Saves the caller-saved registers (keeps the stack 16-byte aligned for the call), passes the
 * vector, and returns with iretq. */
#define STUB(v)                                                                         \
  __asm__(".global stub_" #v "\nstub_" #v ":\n"                                         \
          "push %rax\npush %rcx\npush %rdx\npush %rsi\npush %rdi\n"                      \
          "push %r8\npush %r9\npush %r10\npush %r11\n"                                  \
          "mov $" #v ", %edi\ncall on_interrupt\n"                                      \
          "pop %r11\npop %r10\npop %r9\npop %r8\n"                                      \
          "pop %rdi\npop %rsi\npop %rdx\npop %rcx\npop %rax\niretq\n");
STUB(0x40)
STUB(0x51)
void stub_0x40(void);
void stub_0x51(void);

static void set_gate(uint8_t vector, void (*handler)(void)) {
  uint64_t address = (uint64_t)handler;
  uint16_t cs;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  idt[vector] = (struct idt_gate){(uint16_t)address, cs, 0, 0x8e, (uint16_t)(address >> 16),
                                  (uint32_t)(address >> 32), 0};
}

static int wait_for(uint8_t vector, uint32_t count) {
  for (uint64_t spins = 0; spins < 1000000000ull; ++spins) {
    if (received[vector] >= count) return 1;
    cpu_relax();
  }
  return 0;
}

static void send_msi(uint8_t vector) {
  const uintptr_t dev = FERRY_TESTDEV_BASE;
  uint32_t apic_id = mmio_read32(LAPIC_BASE + LAPIC_ID) >> 24;
  mmio_write32(dev + FERRY_TESTDEV_MSI_ADDR_LO, 0xfee00000u | (apic_id << 12));
  mmio_write32(dev + FERRY_TESTDEV_MSI_ADDR_HI, 0);
  mmio_write32(dev + FERRY_TESTDEV_MSI_DATA, vector); /* fixed delivery, edge */
  mmio_write32(dev + FERRY_TESTDEV_MSI_DOORBELL, 1);
}

int guest_main(uint32_t index, uint32_t count) {
  (void)index, (void)count;
  set_gate(VECTOR_A, stub_0x40);
  set_gate(VECTOR_B, stub_0x51);
  struct {
    uint16_t limit;
    uint64_t base;
  } __attribute__((packed)) idtr = {sizeof idt - 1, (uint64_t)idt};
  __asm__ volatile("lidt %0" ::"m"(idtr));

  mmio_write32(LAPIC_BASE + LAPIC_SVR, 0x100 | SPURIOUS_VECTOR); /* software-enable the LAPIC */
  mmio_write32(LAPIC_BASE + LAPIC_TPR, 0);
  __asm__ volatile("sti");

  send_msi(VECTOR_A);
  if (!wait_for(VECTOR_A, 1)) return 10;
  puts_serial("irq: MSI received on vector 0x40\n");
  send_msi(VECTOR_B);
  if (!wait_for(VECTOR_B, 1)) return 11;
  puts_serial("irq: MSI received on vector 0x51 after a route change\n");
  send_msi(VECTOR_B);
  if (!wait_for(VECTOR_B, 2)) return 12;
  if (received[VECTOR_A] != 1) return 13;
  if (mmio_read32(FERRY_TESTDEV_BASE + FERRY_TESTDEV_MSI_SENT) != 3) return 14;
  puts_serial("irq: 3 MSIs delivered, each exactly once\n");
  return 0;
}

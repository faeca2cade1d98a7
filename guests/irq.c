/* irq: takes MSIs from the ferry test device in an IDT handler. The device sends them through
 * the hypervisor's MSI routing and an irqfd, so this exercises the whole interrupt path. Two
 * vectors are used so that a route change is exercised too. Exits 0, or 10+ on failure. */
#include "rt/interrupts64.h"

#define VECTOR_A 0x40
#define VECTOR_B 0x51

static volatile uint32_t received[256];

void on_interrupt(uint64_t vector) {
  received[vector & 0xff]++;
  lapic_eoi();
}

INTERRUPT_STUB(0x40)
INTERRUPT_STUB(0x51)

static void send_msi(uint8_t vector) {
  const uintptr_t dev = FERRY_TESTDEV_BASE;
  mmio_write32(dev + FERRY_TESTDEV_MSI_ADDR_LO, 0xfee00000u | (lapic_id() << 12));
  mmio_write32(dev + FERRY_TESTDEV_MSI_ADDR_HI, 0);
  mmio_write32(dev + FERRY_TESTDEV_MSI_DATA, vector); /* fixed delivery, edge */
  mmio_write32(dev + FERRY_TESTDEV_MSI_DOORBELL, 1);
}

int guest_main(uint32_t index, uint32_t count) {
  (void)index, (void)count;
  set_gate(VECTOR_A, stub_0x40);
  set_gate(VECTOR_B, stub_0x51);
  load_idt();
  enable_lapic_and_interrupts();

  send_msi(VECTOR_A);
  if (!wait_until(&received[VECTOR_A], 1)) return 10;
  puts_serial("irq: MSI received on vector 0x40\n");
  send_msi(VECTOR_B);
  if (!wait_until(&received[VECTOR_B], 1)) return 11;
  puts_serial("irq: MSI received on vector 0x51 after a route change\n");
  send_msi(VECTOR_B);
  if (!wait_until(&received[VECTOR_B], 2)) return 12;
  if (received[VECTOR_A] != 1) return 13;
  if (mmio_read32(FERRY_TESTDEV_BASE + FERRY_TESTDEV_MSI_SENT) != 3) return 14;
  puts_serial("irq: 3 MSIs delivered, each exactly once\n");
  return 0;
}

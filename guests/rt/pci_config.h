/* PCI configuration access for 64-bit test guests: mechanism #1 (0xcf8/0xcfc) for bus 0 and
 * ECAM, and finding the pci-test device. */
#ifndef FERRY_PCI_CONFIG_H
#define FERRY_PCI_CONFIG_H

#include "ferry/guests/pcitest.h"
#include "rt/guest.h"

#define PCI_COMMAND 0x04
#define PCI_CMD_IO 0x1
#define PCI_CMD_MEMORY 0x2
#define PCI_CMD_BUS_MASTER 0x4
#define PCI_CAPABILITIES 0x34
#define PCI_MSIX_ENABLE 0x8000
#define PCI_MSIX_FUNCTION_MASK 0x4000

static inline void cf8_select(uint32_t slot, uint32_t reg) {
  outl(FERRY_PCI_CONFIG_ADDRESS, 0x80000000u | slot << 11 | (reg & 0xfc));
}
static UNUSED uint32_t cf8_read32(uint32_t slot, uint32_t reg) {
  cf8_select(slot, reg);
  return inl(FERRY_PCI_CONFIG_DATA);
}
static UNUSED uint16_t cf8_read16(uint32_t slot, uint32_t reg) {
  cf8_select(slot, reg);
  return inw((uint16_t)(FERRY_PCI_CONFIG_DATA + (reg & 2)));
}
static UNUSED uint8_t cf8_read8(uint32_t slot, uint32_t reg) {
  cf8_select(slot, reg);
  return inb((uint16_t)(FERRY_PCI_CONFIG_DATA + (reg & 3)));
}
static UNUSED void cf8_write32(uint32_t slot, uint32_t reg, uint32_t v) {
  cf8_select(slot, reg);
  outl(FERRY_PCI_CONFIG_DATA, v);
}
static UNUSED void cf8_write16(uint32_t slot, uint32_t reg, uint16_t v) {
  cf8_select(slot, reg);
  outw((uint16_t)(FERRY_PCI_CONFIG_DATA + (reg & 2)), v);
}
static UNUSED void cf8_write8(uint32_t slot, uint32_t reg, uint8_t v) {
  cf8_select(slot, reg);
  outb((uint16_t)(FERRY_PCI_CONFIG_DATA + (reg & 3)), v);
}
static UNUSED uintptr_t ecam_at(uint32_t slot, uint32_t reg) {
  return FERRY_PCI_ECAM_BASE + (slot << 15 | reg);
}

/* The slot of the (first) pci-test device on bus 0, or 32 when there is none. */
static UNUSED uint32_t find_pci_test(void) {
  for (uint32_t slot = 0; slot < 32; ++slot) {
    if (cf8_read32(slot, 0) == (FERRY_PCI_TEST_DEVICE_ID << 16 | FERRY_PCI_VENDOR_ID)) return slot;
  }
  return 32;
}

/* The offset of capability `id` in slot's list (a walk bounded to 48 hops), or 0. */
static UNUSED uint32_t find_capability(uint32_t slot, uint8_t id) {
  uint32_t at = cf8_read8(slot, PCI_CAPABILITIES) & 0xfc;
  for (int hops = 0; at >= 0x40 && hops < 48; ++hops) {
    if (cf8_read8(slot, at) == id) return at;
    at = cf8_read8(slot, at + 1) & 0xfc;
  }
  return 0;
}

#endif

/* Finding a device on the guest's PCI bus through ECAM: on bus 0, or alone on the bus below a root
 * port (where ferry puts each assigned device). A device is named by its address bus << 5 | slot
 * (function 0), which ECAM offsets take as they took a slot of bus 0: the bus number sits right
 * above the slot's bits (bus << 20 | slot << 15), and so it does in mechanism #1's address. */
#ifndef FERRY_PCI_FIND_H
#define FERRY_PCI_FIND_H

#include "ferry/guests/pcitest.h"
#include "rt/guest.h"

#define PCI_NO_DEVICE 0xffffffffu

static UNUSED uintptr_t pci_device_reg(uint32_t device, uint32_t reg) {
  return FERRY_PCI_ECAM_BASE + (device << 15 | reg);
}

/* The first device `match` accepts: bus 0's slots first, then those of the bus below each bridge
 * on bus 0 (as its Secondary Bus Number register names it); PCI_NO_DEVICE when none does. */
static UNUSED uint32_t pci_find_device(int (*match)(uint32_t device)) {
  for (uint32_t slot = 0; slot < 32; ++slot) {
    if (mmio_read32(pci_device_reg(slot, 0)) != 0xffffffffu && match(slot)) return slot;
  }
  for (uint32_t slot = 0; slot < 32; ++slot) {
    if (mmio_read32(pci_device_reg(slot, 0)) == 0xffffffffu) continue;
    if ((mmio_read8(pci_device_reg(slot, 0x0e)) & 0x7f) != 1) continue; /* not a bridge */
    const uint32_t bus = mmio_read8(pci_device_reg(slot, 0x19));
    if (bus == 0) continue;
    for (uint32_t below = 0; below < 32; ++below) {
      const uint32_t device = bus << 5 | below;
      if (mmio_read32(pci_device_reg(device, 0)) != 0xffffffffu && match(device)) return device;
    }
  }
  return PCI_NO_DEVICE;
}

/* "bb:ss.0" for a device address. */
static UNUSED void put_pci_device(uint32_t device) {
  const char* hex = "0123456789abcdef";
  putc_serial(hex[(device >> 9) & 15]);
  putc_serial(hex[(device >> 5) & 15]);
  putc_serial(':');
  putc_serial(hex[(device >> 4) & 1]);
  putc_serial(hex[device & 15]);
  puts_serial(".0");
}

#endif

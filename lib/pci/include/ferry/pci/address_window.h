// The address ranges the guest's host bridge forwards to PCI: an I/O port window, a 32-bit MMIO
// window below 4 GiB and a 64-bit MMIO window above RAM (docs/pci-bus.md).
#pragma once

#include <cstdint>
#include <string>

namespace ferry::pci {

struct AddressWindow {
  uint64_t base = 0;
  uint64_t size = 0;  // 0: the window does not exist

  /// Whether [address, address+length) lies wholly inside; nothing lies inside an empty window.
  bool contains(uint64_t address, uint64_t length) const;
};

/// "0xc0000000-0xdfffffff", or "(empty)".
std::string describe(const AddressWindow& window);

struct BridgeWindows {
  AddressWindow io;
  AddressWindow mmio32;
  AddressWindow mmio64;
};

}  // namespace ferry::pci

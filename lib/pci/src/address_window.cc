#include "ferry/pci/address_window.h"

#include <fmt/format.h>

#include "ferry/base/checked.h"

namespace ferry::pci {

bool AddressWindow::contains(uint64_t address, uint64_t length) const {
  return length != 0 && address >= base && range_fits(address - base, length, size);
}

std::string describe(const AddressWindow& window) {
  if (window.size == 0) return "(empty)";
  return fmt::format("{:#x}-{:#x}", window.base, window.base + (window.size - 1));
}

}  // namespace ferry::pci

// What the root bus sees of one function: its configuration space.
#pragma once

#include <cstdint>

namespace ferry::pci {

class PciFunction {
 public:
  virtual ~PciFunction() = default;
  /// Reads 1, 2 or 4 bytes at `offset` (< 4096) that stay inside one dword.
  virtual uint32_t config_read(uint16_t offset, unsigned size) = 0;
  /// Writes 1, 2 or 4 bytes at `offset` (< 4096) that stay inside one dword.
  virtual void config_write(uint16_t offset, unsigned size, uint32_t value) = 0;
  /// The bridge above set Secondary Bus Reset. An assigned device resets its hardware; ferry's
  /// own models have no state worth a reset and keep it.
  virtual void secondary_bus_reset() {}
};

}  // namespace ferry::pci

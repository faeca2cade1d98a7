// Builders for the capabilities ferry's functions carry: each appends one to a ConfigSpace with
// its read-only, writable and write-1-to-clear bits, and returns its offset.
#pragma once

#include <cstdint>

#include "ferry/base/error.h"
#include "ferry/pci/config_space.h"

namespace ferry::pci {

struct MsiOptions {
  unsigned vectors = 1;  // 1, 2, 4, 8, 16 or 32 (Multiple Message Capable)
  bool address64 = true;
  bool per_vector_mask = false;
};

struct MsixLayout {
  unsigned vectors = 1;  // 1-2048
  uint8_t table_bar = 0;
  uint32_t table_offset = 0;  // 8-byte aligned: the low 3 bits of the register hold the BAR
  uint8_t pba_bar = 0;
  uint32_t pba_offset = 0;
};

/// MSI: enable and Multiple Message Enable, the address (bits 1:0 read-only zero), 16 bits of
/// data, and the mask bits when per_vector_mask. Pending bits are read-only.
Expected<uint16_t> add_msi_capability(ConfigSpace& config, const MsiOptions& options);

/// MSI-X: enable and function mask are writable; table size, table and PBA locations are not.
Expected<uint16_t> add_msix_capability(ConfigSpace& config, const MsixLayout& layout);

/// PCI Express (version 2) for a Root Complex Integrated Endpoint: a function on the root bus
/// with no link. 128-byte max payload, no FLR; device status error bits are write-1-to-clear.
Expected<uint16_t> add_pcie_capability(ConfigSpace& config);

/// PCI Express (version 2) for a Root Port numbered `port_number`: no slot registers (nothing is
/// hot-plugged), a 16 GT/s x16 link that is always up and says so (Data Link Layer Link Active).
Expected<uint16_t> add_root_port_pcie_capability(ConfigSpace& config, uint8_t port_number);

}  // namespace ferry::pci

// How an assigned device's configuration space is split between ferry and the device, worked
// out once from the device's own bytes: ferry emulates the header (BARs, ROM, command and
// status as the guest sees them), the MSI and MSI-X capabilities and the capability chain;
// every other byte of the first 256 is the device's, read from and written to it. Capabilities
// ferry cannot honour leave the chain (the guest never finds them); extended capabilities
// (0x100 and up: AER, SR-IOV, Resizable BAR...) are all hidden.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ferry::vfio {

struct MsixLayout {
  uint16_t cap = 0;  // offset of the capability
  unsigned vectors = 0;
  unsigned table_bar = 0;
  uint32_t table_offset = 0;
  unsigned pba_bar = 0;
  uint32_t pba_offset = 0;

  uint64_t table_bytes() const { return uint64_t{vectors} * 16; }
  uint64_t pba_bytes() const { return (uint64_t{vectors} + 63) / 64 * 8; }  // a bit per vector
};

struct MsiLayout {
  uint16_t cap = 0;
  bool is_64bit = false;
  bool per_vector_mask = false;

  uint16_t data_offset() const { return is_64bit ? 0x0c : 0x08; }
  uint16_t mask_offset() const { return is_64bit ? 0x10 : 0x0c; }
  unsigned length() const { return per_vector_mask ? mask_offset() + 8 : data_offset() + 2; }
};

struct KeptCapability {
  uint8_t id = 0;
  uint16_t offset = 0;
  uint8_t next = 0;  // the guest's chain
};

struct ConfigPlan {
  std::bitset<256> forwarded;        // bytes that are the device's
  std::vector<KeptCapability> kept;  // in chain order
  std::vector<std::string> hidden;   // what left the chain, for the start-up message
  std::optional<MsixLayout> msix;
  std::optional<MsiLayout> msi;
};

/// The little-endian value of `size` (1-4) bytes of `raw` at `offset`; bytes past 256 read 0.
uint32_t config_value(std::span<const uint8_t, 256> raw, unsigned offset, unsigned size);

/// Plans the split from the device's first 256 bytes of configuration space. A malformed chain
/// (a loop, a pointer into the header) ends the walk where it goes wrong.
ConfigPlan plan_config(std::span<const uint8_t, 256> raw);

/// "MSI-X", "power management", "vendor-specific", or "capability 0x07".
std::string capability_name(uint8_t id);

}  // namespace ferry::vfio

// A device's configuration space as the host kernel showed it (64, 256 or 4096 bytes: how much a
// reader gets depends on privileges and on the device), with bounds-checked reads and the walk
// of its two capability lists.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace ferry::pci::host {

constexpr size_t kConfigHeaderSize = 64;
constexpr size_t kConfigSize = 256;           // conventional PCI
constexpr size_t kExtendedConfigSize = 4096;  // PCI Express

// Where one capability sits. Standard ones have 8-bit IDs (PCI_CAP_ID_*) in the list that starts
// at 0x34; extended ones have 16-bit IDs (PCI_EXT_CAP_ID_*) and a version, from 0x100.
struct CapabilityHeader {
  bool extended = false;
  uint16_t id = 0;
  uint16_t offset = 0;
  uint8_t version = 0;  // extended only
};

class ConfigSpace {
 public:
  ConfigSpace() = default;
  explicit ConfigSpace(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}

  size_t size() const { return bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

  /// Little-endian reads; nullopt when any byte lies past what was read.
  std::optional<uint8_t> read8(size_t offset) const;
  std::optional<uint16_t> read16(size_t offset) const;
  std::optional<uint32_t> read32(size_t offset) const;

  /// The header type without the multi-function bit: 0 endpoint, 1 PCI bridge, 2 CardBus.
  std::optional<uint8_t> header_type() const;

  /// Both capability lists in chain order. A pointer out of range, into the header, or back to
  /// a capability already seen ends its list (broken and hostile devices both exist).
  std::vector<CapabilityHeader> capabilities() const;

  /// The first capability with this ID, if any.
  std::optional<CapabilityHeader> find(uint16_t id, bool extended) const;

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace ferry::pci::host

#include "ferry/pci/host/config_space.h"

#include <set>

#include "ferry/base/checked.h"

namespace ferry::pci::host {
namespace {

constexpr size_t kStatus = 0x06;
constexpr uint16_t kStatusCapList = 1u << 4;
constexpr size_t kHeaderType = 0x0e;
constexpr size_t kCapabilityPointer = 0x34;
constexpr size_t kCardBusCapabilityPointer = 0x14;

}  // namespace

std::optional<uint8_t> ConfigSpace::read8(size_t offset) const {
  if (!range_fits(offset, 1, bytes_.size())) return std::nullopt;
  return bytes_[offset];
}

std::optional<uint16_t> ConfigSpace::read16(size_t offset) const {
  if (!range_fits(offset, 2, bytes_.size())) return std::nullopt;
  return static_cast<uint16_t>(bytes_[offset] | bytes_[offset + 1] << 8);
}

std::optional<uint32_t> ConfigSpace::read32(size_t offset) const {
  if (!range_fits(offset, 4, bytes_.size())) return std::nullopt;
  return static_cast<uint32_t>(bytes_[offset]) | static_cast<uint32_t>(bytes_[offset + 1]) << 8 |
         static_cast<uint32_t>(bytes_[offset + 2]) << 16 |
         static_cast<uint32_t>(bytes_[offset + 3]) << 24;
}

std::optional<uint8_t> ConfigSpace::header_type() const {
  auto type = read8(kHeaderType);
  if (!type) return std::nullopt;
  return static_cast<uint8_t>(*type & 0x7f);
}

std::vector<CapabilityHeader> ConfigSpace::capabilities() const {
  std::vector<CapabilityHeader> found;
  auto status = read16(kStatus);
  if (status && (*status & kStatusCapList)) {
    auto pointer = read8(header_type() == 2 ? kCardBusCapabilityPointer : kCapabilityPointer);
    std::set<size_t> seen;
    size_t offset = pointer.value_or(0) & 0xfc;
    while (offset >= kConfigHeaderSize && offset < kConfigSize && seen.insert(offset).second) {
      auto id = read8(offset);
      auto next = read8(offset + 1);
      if (!id || !next) break;
      found.push_back({.extended = false, .id = *id, .offset = static_cast<uint16_t>(offset)});
      offset = *next & 0xfc;
    }
  }
  std::set<size_t> seen;
  size_t offset = kConfigSize;
  while (offset >= kConfigSize && seen.insert(offset).second) {
    auto header = read32(offset);
    if (!header || *header == 0 || *header == 0xffffffff) break;
    found.push_back({.extended = true,
                     .id = static_cast<uint16_t>(*header & 0xffff),
                     .offset = static_cast<uint16_t>(offset),
                     .version = static_cast<uint8_t>((*header >> 16) & 0xf)});
    offset = (*header >> 20) & 0xffc;
  }
  return found;
}

std::optional<CapabilityHeader> ConfigSpace::find(uint16_t id, bool extended) const {
  for (const CapabilityHeader& cap : capabilities()) {
    if (cap.id == id && cap.extended == extended) return cap;
  }
  return std::nullopt;
}

}  // namespace ferry::pci::host

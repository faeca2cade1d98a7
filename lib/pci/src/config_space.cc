#include "ferry/pci/config_space.h"

#include "ferry/base/checked.h"
#include "ferry/pci/config_regs.h"

namespace ferry::pci {

bool ConfigSpace::inside(uint32_t offset, unsigned size) {
  return size >= 1 && size <= 4 && range_fits(offset, size, kSize);
}

bool ConfigSpace::access_ok(uint32_t offset, unsigned size) {
  return (size == 1 || size == 2 || size == 4) && offset < kSize && (offset & 3) + size <= 4;
}

uint32_t ConfigSpace::read(uint32_t offset, unsigned size) const {
  if (!access_ok(offset, size)) return 0xffffffff;
  return get(offset, size);
}

void ConfigSpace::write(uint32_t offset, unsigned size, uint32_t value) {
  if (!access_ok(offset, size)) return;
  for (unsigned i = 0; i < size; ++i) {
    const auto in = static_cast<uint8_t>(value >> (8 * i));
    uint8_t& byte = bytes_[offset + i];
    byte = static_cast<uint8_t>((byte & ~writable_[offset + i]) | (in & writable_[offset + i]));
    byte = static_cast<uint8_t>(byte & ~(in & w1c_[offset + i]));
  }
}

uint32_t ConfigSpace::get(uint32_t offset, unsigned size) const {
  if (!inside(offset, size)) return 0;
  uint32_t value = 0;
  for (unsigned i = 0; i < size; ++i) value |= uint32_t{bytes_[offset + i]} << (8 * i);
  return value;
}

void ConfigSpace::set(uint32_t offset, unsigned size, uint32_t value) {
  if (!inside(offset, size)) return;
  for (unsigned i = 0; i < size; ++i) bytes_[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}

void ConfigSpace::set_writable(uint32_t offset, unsigned size, uint32_t mask) {
  if (!inside(offset, size)) return;
  for (unsigned i = 0; i < size; ++i) writable_[offset + i] = static_cast<uint8_t>(mask >> (8 * i));
}

void ConfigSpace::set_write_one_to_clear(uint32_t offset, unsigned size, uint32_t mask) {
  if (!inside(offset, size)) return;
  for (unsigned i = 0; i < size; ++i) w1c_[offset + i] = static_cast<uint8_t>(mask >> (8 * i));
}

Expected<uint16_t> ConfigSpace::add_capability(uint8_t id, unsigned length) {
  if (length < 2 || !range_fits(next_capability_, length, kLegacySize)) {
    return fail(Errc::kNoResources,
                "capability {:#04x} of {} bytes does not fit the capability area at {:#x}-0xff", id,
                length, next_capability_);
  }
  const uint16_t offset = next_capability_;
  set(offset, 1, id);
  set(offset + 1, 1, 0);
  set(last_capability_ == 0 ? kCapabilityPointer : last_capability_ + 1u, 1, offset);
  set(kStatus, 2, get(kStatus, 2) | kStatusCapabilityList);
  last_capability_ = offset;
  next_capability_ = static_cast<uint16_t>(align_up(offset + length, 4));
  return offset;
}

std::optional<uint16_t> ConfigSpace::find_capability(uint8_t id) const {
  // The list is built by add_capability, so it is short and acyclic; the bound is belt and braces.
  uint32_t at = get(kCapabilityPointer, 1) & ~3u;
  for (unsigned hops = 0; at >= kHeaderEnd && hops < 64; ++hops) {
    if (get(at, 1) == id) return static_cast<uint16_t>(at);
    at = get(at + 1, 1) & ~3u;
  }
  return std::nullopt;
}

}  // namespace ferry::pci

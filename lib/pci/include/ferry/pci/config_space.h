// One function's 4 KiB configuration space as the guest sees it: the bytes, and per-bit masks
// that say which bits a guest write changes (writable) and which it clears by writing 1 (w1c).
// Every other bit is read-only to the guest. Device code sets values and masks directly.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "ferry/base/error.h"

namespace ferry::pci {

class ConfigSpace {
 public:
  static constexpr unsigned kSize = 4096;
  static constexpr unsigned kLegacySize = 256;  // what configuration mechanism #1 reaches

  /// Whether the bus carries a guest access of `size` bytes at `offset`: 1, 2 or 4 bytes that
  /// stay inside one dword of the space.
  static bool access_ok(uint32_t offset, unsigned size);

  /// Guest read; an access that is not access_ok() reads all ones.
  uint32_t read(uint32_t offset, unsigned size) const;
  /// Guest write through the masks; an access that is not access_ok() is dropped.
  void write(uint32_t offset, unsigned size, uint32_t value);

  /// Device side: the little-endian value of 1-4 bytes at offset (0 outside the space).
  uint32_t get(uint32_t offset, unsigned size) const;
  /// Device side: stores a value regardless of the masks (ignored outside the space).
  void set(uint32_t offset, unsigned size, uint32_t value);
  /// Which bits of [offset, offset+size) a guest write may change.
  void set_writable(uint32_t offset, unsigned size, uint32_t mask);
  /// Which bits of [offset, offset+size) a guest clears by writing 1.
  void set_write_one_to_clear(uint32_t offset, unsigned size, uint32_t mask);

  /// Appends a capability of `length` bytes (its 2-byte header included) to the list, sets the
  /// status bit that announces the list, and returns its offset. Fails when [0x40, 0x100) is full.
  Expected<uint16_t> add_capability(uint8_t id, unsigned length);
  /// The offset of the first capability with `id` on the list.
  std::optional<uint16_t> find_capability(uint8_t id) const;

 private:
  static bool inside(uint32_t offset, unsigned size);

  std::array<uint8_t, kSize> bytes_{};
  std::array<uint8_t, kSize> writable_{};
  std::array<uint8_t, kSize> w1c_{};
  uint16_t next_capability_ = 0x40;  // where the next capability goes
  uint16_t last_capability_ = 0;     // 0 until the first one
};

}  // namespace ferry::pci

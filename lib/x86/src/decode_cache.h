// The last few decoded instructions of one vCPU. A driver polling or filling a device register
// traps on the same instruction again and again; a hit skips Zydis (about half the cost of an
// emulation). Decoding depends only on the mode and the bytes, so a hit compares exactly those.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "decoder.h"

namespace ferry::x86 {

class DecodeCache {
 public:
  /// The cached decoding of the instruction at the start of `bytes`, or null.
  const Decoded* find(CpuMode mode, uint64_t rip, std::span<const uint8_t> bytes) const;
  /// Remembers `decoded` (replacing whatever shared its slot).
  void insert(CpuMode mode, uint64_t rip, const Decoded& decoded);

 private:
  struct Entry {
    bool valid = false;
    CpuMode mode = CpuMode::kLong64;
    Decoded decoded;
  };
  static size_t slot(uint64_t rip) { return (rip ^ (rip >> 5) ^ (rip >> 12)) % kEntries; }

  static constexpr size_t kEntries = 16;
  std::array<Entry, kEntries> entries_;
};

}  // namespace ferry::x86

#include "decode_cache.h"

#include <cstring>

namespace ferry::x86 {

const Decoded* DecodeCache::find(CpuMode mode, uint64_t rip, std::span<const uint8_t> bytes) const {
  const Entry& entry = entries_[slot(rip)];
  if (!entry.valid || entry.mode != mode) return nullptr;
  const size_t length = entry.decoded.insn.length;
  if (length > bytes.size() || std::memcmp(entry.decoded.bytes.data(), bytes.data(), length) != 0) {
    return nullptr;
  }
  return &entry.decoded;
}

void DecodeCache::insert(CpuMode mode, uint64_t rip, const Decoded& decoded) {
  Entry& entry = entries_[slot(rip)];
  entry.valid = true;
  entry.mode = mode;
  entry.decoded = decoded;
}

}  // namespace ferry::x86

// What a Base Address Register decodes: its kind, its size (a power of two) and prefetchability.
#pragma once

#include <cstdint>
#include <string>

#include "ferry/base/error.h"

namespace ferry::pci {

enum class BarKind : uint8_t { kIo, kMemory32, kMemory64 };

struct BarSpec {
  BarKind kind = BarKind::kMemory32;
  uint64_t size = 0;
  bool prefetchable = false;  // memory BARs only
};

constexpr uint64_t kMinMemoryBarSize = 16;
constexpr uint64_t kMinIoBarSize = 4;
constexpr uint64_t kMaxIoBarSize = 256;
constexpr uint64_t kMinRomSize = 2048;
constexpr uint64_t kMaxRomSize = 16ull << 20;

/// "64-bit prefetchable memory BAR of 16 KiB".
std::string describe(const BarSpec& spec);

/// The size is a power of two the kind can decode: I/O 4-256 bytes, 32-bit memory 16 bytes to
/// 2 GiB, 64-bit memory from 16 bytes to 2^63; only memory is prefetchable.
Expected<void> check_bar_spec(const BarSpec& spec);

}  // namespace ferry::pci

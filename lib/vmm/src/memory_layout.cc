#include "ferry/vmm/memory_layout.h"

#include <algorithm>

#include "ferry/base/checked.h"

namespace ferry::vmm {

std::vector<RamRange> ram_ranges(uint64_t size) {
  std::vector<RamRange> ranges;
  const uint64_t low_end = std::min(size, kLowRamLimit);
  ranges.push_back({0, std::min(low_end, kLegacyHoleStart), 0});
  if (low_end > kLegacyHoleEnd) {
    ranges.push_back({kLegacyHoleEnd, low_end - kLegacyHoleEnd, kLegacyHoleEnd});
  }
  if (size > kLowRamLimit) {
    ranges.push_back({kHighRamStart, size - kLowRamLimit, kLowRamLimit});
  }
  return ranges;
}

uint64_t ram_top(uint64_t size) {
  return size > kLowRamLimit ? kHighRamStart + (size - kLowRamLimit) : size;
}

uint64_t pci_mmio64_base(uint64_t size) {
  return std::max(kHighRamStart, align_up(ram_top(size), kPciMmio64Alignment));
}

}  // namespace ferry::vmm

#include "ferry/pci/address_allocator.h"

#include <bit>

#include "ferry/base/checked.h"

namespace ferry::pci {
namespace {

std::optional<uint64_t> checked_align_up(uint64_t value, uint64_t alignment) {
  auto bumped = checked_add(value, alignment - 1);
  if (!bumped) return std::nullopt;
  return *bumped & ~(alignment - 1);
}

}  // namespace

std::optional<uint64_t> AddressAllocator::allocate(uint64_t size, uint64_t alignment) {
  if (size == 0 || !std::has_single_bit(alignment)) return std::nullopt;
  std::optional<uint64_t> candidate = checked_align_up(window_.base, alignment);
  // Walk the gaps in address order; the first aligned gap that holds `size` wins.
  for (const auto& [base, length] : taken_) {
    if (!candidate) return std::nullopt;
    if (*candidate < base && base - *candidate >= size) break;
    if (*candidate < base + length) candidate = checked_align_up(base + length, alignment);
  }
  if (!candidate || !window_.contains(*candidate, size)) return std::nullopt;
  taken_.emplace(*candidate, size);
  return candidate;
}

bool AddressAllocator::reserve(uint64_t base, uint64_t size) {
  if (!window_.contains(base, size)) return false;
  auto after = taken_.upper_bound(base);
  if (after != taken_.end() && ranges_overlap(base, size, after->first, after->second)) {
    return false;
  }
  if (after != taken_.begin()) {
    auto before = std::prev(after);
    if (ranges_overlap(base, size, before->first, before->second)) return false;
  }
  taken_.emplace(base, size);
  return true;
}

bool AddressAllocator::release(uint64_t base) { return taken_.erase(base) == 1; }

}  // namespace ferry::pci

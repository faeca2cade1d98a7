// First-fit allocation of aligned ranges inside one address window.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

#include "ferry/pci/address_window.h"

namespace ferry::pci {

class AddressAllocator {
 public:
  explicit AddressAllocator(AddressWindow window) : window_(window) {}

  /// Takes the lowest free range of `size` bytes aligned to `alignment` (a power of two).
  std::optional<uint64_t> allocate(uint64_t size, uint64_t alignment);
  /// Takes [base, base+size) when it lies in the window and overlaps nothing taken.
  bool reserve(uint64_t base, uint64_t size);
  /// Gives back the range that starts at base; false when none does.
  bool release(uint64_t base);

  const AddressWindow& window() const { return window_; }

 private:
  AddressWindow window_;
  std::map<uint64_t, uint64_t> taken_;  // base -> size, non-overlapping
};

}  // namespace ferry::pci

// Guest RAM: one host allocation (anonymous or hugetlb) laid out by memory_layout.h.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "ferry/accel/vm.h"
#include "ferry/base/error.h"
#include "ferry/base/mapping.h"
#include "ferry/vmm/memory_layout.h"

namespace ferry::vmm {

class GuestMemory {
 public:
  /// Allocates `size` bytes; huge_page_size 0 = normal pages, else 2 MiB or 1 GiB hugetlb pages
  /// (a clear error says how many are free when the pool is short).
  static Expected<GuestMemory> allocate(uint64_t size, uint64_t huge_page_size = 0);

  uint64_t size() const { return size_; }
  const std::vector<RamRange>& ranges() const { return ranges_; }

  /// Host address of [gpa, gpa+length) when it is all RAM inside one range, else nullptr.
  uint8_t* host_span(uint64_t gpa, uint64_t length) const noexcept;
  /// Copies bytes into RAM; an error names the range when it is not all RAM.
  Expected<void> write(uint64_t gpa, std::span<const uint8_t> bytes) const;
  Expected<void> zero(uint64_t gpa, uint64_t length) const;

  /// Maps every RAM range into the VM.
  Expected<void> map_into(accel::Vm& vm) const;
  /// Bytes of guest RAM the host has actually backed (touched pages).
  uint64_t resident_bytes() const;

 private:
  GuestMemory(Mapping mapping, uint64_t size)
      : mapping_(std::move(mapping)), size_(size), ranges_(ram_ranges(size)) {}

  Mapping mapping_;
  uint64_t size_;
  std::vector<RamRange> ranges_;
};

}  // namespace ferry::vmm

// Guest RAM: one host allocation (anonymous, transparent huge pages, or hugetlb) laid out by
// memory_layout.h.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "ferry/accel/vm.h"
#include "ferry/base/error.h"
#include "ferry/base/mapping.h"
#include "ferry/vmm/memory_layout.h"

namespace ferry::vmm {

struct RamBacking {
  uint64_t huge_page_size = 0;          // hugetlb pages of this size (2 MiB, 1 GiB); 0 = none
  bool transparent_huge_pages = false;  // normal pages, 2 MiB-aligned and madvised for THP
};

// The two steps of pinning guest RAM for DMA: backing every page (populate(), on several
// threads), then mapping it into the IOMMU (VFIO_IOMMU_MAP_DMA, which pins it).
enum class PinStep { kPopulate, kMap };

// How far a step has come, for a progress line.
struct PopulateProgress {
  uint64_t done_bytes = 0;
  uint64_t total_bytes = 0;
  double seconds = 0;  // since the step began
  PinStep step = PinStep::kPopulate;
};
using PopulateObserver = std::function<void(const PopulateProgress&)>;

// What the host's pool of one hugepage size holds (its sysfs directory).
struct HugepagePool {
  std::string dir;        // /sys/kernel/mm/hugepages/hugepages-2048kB
  long free_pages = -1;   // -1: the kernel has no pool of that size
  long total_pages = -1;  // nr_hugepages
};
HugepagePool read_hugepage_pool(uint64_t huge_page_size);

/// Why `size` of guest RAM in `huge_page_size` pages could not be allocated, given `pool`: the
/// pages needed and free, the shortfall, and the command that grows the pool (`cause`, the
/// mmap error, when the pool had enough and something else refused).
Error hugepage_pool_error(uint64_t size, uint64_t huge_page_size, const HugepagePool& pool,
                          const Error& cause);

class GuestMemory {
 public:
  /// Allocates `size` bytes backed as asked (a clear error says how many hugepages are free
  /// when the pool is short).
  static Expected<GuestMemory> allocate(uint64_t size, RamBacking backing = {});

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

  /// Backs every page now, in chunks shared out to `threads` threads. Pinning RAM for DMA
  /// faults in and zeroes each page on one thread inside the kernel, which dominates its cost;
  /// populated first, in parallel, the pinning only has to look the pages up. `observer` (if
  /// any) is called after each chunk, from the thread that did it, one call at a time.
  Expected<void> populate(unsigned threads, const PopulateObserver& observer = {}) const;

 private:
  GuestMemory(Mapping mapping, uint64_t size, uint64_t page_size)
      : mapping_(std::move(mapping)),
        size_(size),
        page_size_(page_size),
        ranges_(ram_ranges(size)) {}

  Mapping mapping_;
  uint64_t size_;
  uint64_t page_size_;  // the backing's page: 4 KiB (THP too), 2 MiB or 1 GiB
  std::vector<RamRange> ranges_;
};

}  // namespace ferry::vmm

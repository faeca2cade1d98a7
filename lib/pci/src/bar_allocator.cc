#include "ferry/pci/bar_allocator.h"

#include <algorithm>
#include <utility>

#include "ferry/base/checked.h"
#include "ferry/base/units.h"

namespace ferry::pci {

namespace {

// Takes the part of `range` that lies in `allocator`'s window, so nothing is placed there.
void exclude(AddressAllocator& allocator, const AddressWindow& range) {
  const AddressWindow& w = allocator.window();
  if (w.size == 0 || range.size == 0) return;
  const uint64_t begin = std::max(w.base, range.base);
  const uint64_t end = std::min(w.base + (w.size - 1), range.base + (range.size - 1));  // inclusive
  if (begin > end) return;
  (void)allocator.reserve(begin, end - begin + 1);  // excluded ranges may overlap each other
}

// How much of one window a bridge's BARs need: each BAR takes at least a page and is aligned to
// its size, so placed largest first they pack without gaps.
struct Demand {
  uint64_t total = 0;
  uint64_t largest = 0;
};

Expected<void> add(Demand& demand, uint64_t size) {
  auto total = checked_add(demand.total, size);
  if (!total) return fail(Errc::kNoResources, "the BARs of one function add up past 2^64 bytes");
  demand.total = *total;
  demand.largest = std::max(demand.largest, size);
  return {};
}

uint64_t align_up(uint64_t value, uint64_t granule) {
  return (value + granule - 1) & ~(granule - 1);
}

}  // namespace

BarAllocator BarAllocator::below_port(const PortWindows& windows) {
  BarAllocator allocator(
      {.io = windows.io, .mmio32 = windows.memory, .mmio64 = windows.prefetchable});
  allocator.below_port_ = true;
  return allocator;
}

Expected<PortWindows> BarAllocator::allocate_port_windows(const std::vector<BarSpec>& bars,
                                                          bool& io_left_out) {
  Demand io, memory, prefetchable;
  for (const BarSpec& spec : bars) {
    FERRY_TRY(check_bar_spec(spec));
    if (spec.kind == BarKind::kIo) {
      FERRY_TRY(add(io, spec.size));
    } else if (spec.kind == BarKind::kMemory64 && spec.prefetchable) {
      FERRY_TRY(add(prefetchable, std::max(spec.size, kBarPageSize)));
    } else {
      FERRY_TRY(add(memory, std::max(spec.size, kBarPageSize)));
    }
  }
  PortWindows windows;
  io_left_out = false;
  if (io.total) {
    const uint64_t size = align_up(io.total, kBridgeIoGranule);
    if (auto at = io_.allocate(size, kBridgeIoGranule)) {
      windows.io = {*at, size};
    } else {
      io_left_out = true;
    }
  }
  if (memory.total) {
    const uint64_t size = align_up(memory.total, kBridgeMemoryGranule);
    auto at = mmio32_.allocate(size, std::max(memory.largest, kBridgeMemoryGranule));
    if (!at) {
      return fail(Errc::kNoResources,
                  "no room for a root port's {} memory window in the 32-bit MMIO window {}; use "
                  "fewer devices or devices with smaller non-prefetchable BARs",
                  format_size(size), describe(mmio32_.window()));
    }
    windows.memory = {*at, size};
  }
  if (prefetchable.total) {
    const uint64_t size = align_up(prefetchable.total, kBridgeMemoryGranule);
    const uint64_t alignment = std::max(prefetchable.largest, kBridgeMemoryGranule);
    auto at = mmio64_.allocate(size, alignment);
    if (!at) at = mmio32_.allocate(size, alignment);
    if (!at) {
      return fail(
          no_64bit_room(fmt::format("root port's {} prefetchable window", format_size(size))));
    }
    windows.prefetchable = {*at, size};
  }
  return windows;
}

BarAllocator::BarAllocator(const BridgeWindows& windows, const std::vector<AddressWindow>& excluded,
                           std::string mmio64_end)
    : io_(windows.io),
      mmio32_(windows.mmio32),
      mmio64_(windows.mmio64),
      mmio64_end_(mmio64_end.empty() ? "where the guest's physical address bits end"
                                     : std::move(mmio64_end)) {
  for (const AddressWindow& range : excluded) {
    exclude(mmio32_, range);
    exclude(mmio64_, range);
  }
}

Expected<uint64_t> BarAllocator::allocate(const BarSpec& spec) {
  FERRY_TRY(check_bar_spec(spec));
  if (spec.kind == BarKind::kIo) {
    if (auto at = io_.allocate(spec.size, spec.size)) return *at;
    return fail(Errc::kNoResources,
                "no room for an {} in the I/O port window {}; use fewer devices with I/O BARs",
                describe(spec), describe(io_.window()));
  }
  const uint64_t alignment = std::max(spec.size, kBarPageSize);
  if (spec.kind == BarKind::kMemory64 && (spec.prefetchable || !below_port_)) {
    if (auto at = mmio64_.allocate(spec.size, alignment)) return *at;
  }
  if (auto at = mmio32_.allocate(spec.size, alignment)) return *at;
  if (spec.kind == BarKind::kMemory32) {
    return fail(Errc::kNoResources,
                "no room for a {} in the 32-bit MMIO window {}; use fewer devices with 32-bit "
                "BARs",
                describe(spec), describe(mmio32_.window()));
  }
  return fail(no_64bit_room(describe(spec)));
}

Error BarAllocator::no_64bit_room(const std::string& what) const {
  return Error(Errc::kNoResources,
               fmt::format("no room for a {} in the 64-bit MMIO window {} ({}) nor in the 32-bit "
                           "window {}; the 64-bit window starts above guest RAM and ends {}, so "
                           "the VM needs fewer or smaller large BARs, less RAM, or more physical "
                           "address bits (a host whose CPU and IOMMU address more memory)",
                           what, describe(mmio64_.window()), format_size(mmio64_.window().size),
                           describe(mmio32_.window()), mmio64_end_));
}

}  // namespace ferry::pci

#include "ferry/pci/bar_allocator.h"

#include <algorithm>
#include <utility>

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

}  // namespace

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
  if (spec.kind == BarKind::kMemory64) {
    if (auto at = mmio64_.allocate(spec.size, alignment)) return *at;
  }
  if (auto at = mmio32_.allocate(spec.size, alignment)) return *at;
  if (spec.kind == BarKind::kMemory32) {
    return fail(Errc::kNoResources,
                "no room for a {} in the 32-bit MMIO window {}; use fewer devices with 32-bit "
                "BARs",
                describe(spec), describe(mmio32_.window()));
  }
  return fail(Errc::kNoResources,
              "no room for a {} in the 64-bit MMIO window {} ({}) nor in the 32-bit window {}; "
              "the 64-bit window starts above guest RAM and ends {}, so the VM needs fewer or "
              "smaller large BARs, less RAM, or more physical address bits (a host whose CPU "
              "and IOMMU address more memory)",
              describe(spec), describe(mmio64_.window()), format_size(mmio64_.window().size),
              describe(mmio32_.window()), mmio64_end_);
}

}  // namespace ferry::pci

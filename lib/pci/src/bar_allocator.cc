#include "ferry/pci/bar_allocator.h"

#include <algorithm>

namespace ferry::pci {

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
              "no room for a {} in the 64-bit MMIO window {} nor in the 32-bit window {}; the "
              "64-bit window ends where the guest's physical address bits end, so the VM needs "
              "more of them (a host with a wider physical address space) or fewer large BARs",
              describe(spec), describe(mmio64_.window()), describe(mmio32_.window()));
}

}  // namespace ferry::pci

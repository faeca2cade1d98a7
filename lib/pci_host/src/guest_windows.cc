#include "ferry/pci/host/guest_windows.h"

#include <algorithm>

#include "ferry/base/checked.h"
#include "ferry/base/units.h"

namespace ferry::pci::host {

Expected<GuestWindows> GuestWindows::for_guest(uint64_t ram_top, unsigned phys_bits) {
  if (phys_bits < kMinPhysBits || phys_bits > kMaxPhysBits) {
    return fail(Errc::kInvalidArgument,
                "{} guest physical address bits is outside {}-{}: give the width the guest's "
                "CPUs report (40 is common, 46-52 on large hosts)",
                phys_bits, kMinPhysBits, kMaxPhysBits);
  }
  GuestWindows windows;
  windows.ram_top = ram_top;
  const uint64_t top = (uint64_t{1} << phys_bits) - 1;
  const uint64_t start = align_up(std::max(ram_top, 4 * kGiB), kGiB);
  if (start <= top && start >= ram_top) windows.mmio64 = AddressRange{start, top};
  return windows;
}

}  // namespace ferry::pci::host

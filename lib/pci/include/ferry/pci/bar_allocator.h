// The firmware's part of BAR placement: picks guest addresses for BARs inside the host bridge's
// windows. Memory BARs are aligned to their size and to at least a page, so no two BARs share a
// page (a page is what a VFIO BAR mapping or an MSI-X hole is carved in). The same placement
// rules (windows, alignment, excluded ranges) are what `ferry check` plans a device with
// (pci::host::plan_bars).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/pci/address_allocator.h"
#include "ferry/pci/bar.h"

namespace ferry::pci {

constexpr uint64_t kBarPageSize = 4096;

class BarAllocator {
 public:
  /// No BAR is placed over `excluded` (the IOMMU's reserved regions of the VM's assigned
  /// devices: DMA to a BAR there, peer to peer, could not be mapped). `mmio64_end` says where
  /// and why the 64-bit window ends ("at 2^39, where ..."), for the error of a BAR that does
  /// not fit.
  explicit BarAllocator(const BridgeWindows& windows,
                        const std::vector<AddressWindow>& excluded = {},
                        std::string mmio64_end = {});

  /// An address for a BAR: I/O in the I/O window, 32-bit memory in the 32-bit window, 64-bit
  /// memory in the 64-bit window, or in the 32-bit window when the 64-bit one has no room.
  Expected<uint64_t> allocate(const BarSpec& spec);

 private:
  AddressAllocator io_;
  AddressAllocator mmio32_;
  AddressAllocator mmio64_;
  std::string mmio64_end_;
};

}  // namespace ferry::pci

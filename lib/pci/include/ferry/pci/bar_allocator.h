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
#include "ferry/pci/root_port.h"

namespace ferry::pci {

constexpr uint64_t kBarPageSize = 4096;
constexpr uint64_t kBridgeIoGranule = 4096;
constexpr uint64_t kBridgeMemoryGranule = 1 << 20;

class BarAllocator {
 public:
  /// No BAR is placed over `excluded` (the IOMMU's reserved regions of the VM's assigned
  /// devices: DMA to a BAR there, peer to peer, could not be mapped). `mmio64_end` says where
  /// and why the 64-bit window ends ("at 2^39, where ..."), for the error of a BAR that does
  /// not fit.
  explicit BarAllocator(const BridgeWindows& windows,
                        const std::vector<AddressWindow>& excluded = {},
                        std::string mmio64_end = {});

  /// Places the BARs of a function below a root port with `windows` (from allocate_port_windows):
  /// there a 64-bit BAR that is not prefetchable goes to the memory window below 4 GiB, as a
  /// bridge forwards 64-bit addresses only through its prefetchable window.
  static BarAllocator below_port(const PortWindows& windows);

  /// An address for a BAR: I/O in the I/O window, 32-bit memory in the 32-bit window, 64-bit
  /// memory in the 64-bit window, or in the 32-bit window when the 64-bit one has no room.
  Expected<uint64_t> allocate(const BarSpec& spec);

  /// The windows a root port needs for a function with `bars` below it, taken from this
  /// allocator's windows: I/O in 4 KiB granules, memory in 1 MiB granules. 64-bit prefetchable
  /// BARs share the prefetchable window (in the 64-bit window when it has room), every other
  /// memory BAR and the ROM the memory window below 4 GiB. When the I/O window is full the port
  /// gets none, as firmware does, and `io_left_out` says so: the function's I/O BARs stay
  /// unassigned and its memory BARs still work.
  Expected<PortWindows> allocate_port_windows(const std::vector<BarSpec>& bars, bool& io_left_out);

 private:
  // Where `what` found neither window with room, and what to change.
  Error no_64bit_room(const std::string& what) const;

  AddressAllocator io_;
  AddressAllocator mmio32_;
  AddressAllocator mmio64_;
  std::string mmio64_end_;
  bool below_port_ = false;
};

}  // namespace ferry::pci

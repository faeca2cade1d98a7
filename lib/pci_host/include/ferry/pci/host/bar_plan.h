// Whether a device's BARs and ROM fit a guest's windows: each is given a guest address with
// natural alignment (memory BARs at least a page, so each can be mapped on its own), avoiding
// the IOMMU's reserved regions and staying inside its address width, since ferry maps BARs
// into the IOMMU too (peer-to-peer DMA).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ferry/pci/host/guest_windows.h"
#include "ferry/pci/host/host_device.h"
#include "ferry/pci/host/inventory.h"

namespace ferry::pci::host {

constexpr unsigned kRomIndex = 6;

// What the IOMMU in front of the device allows; empty when unknown (no clamping then).
struct IommuLimits {
  std::optional<unsigned> address_bits;
  std::vector<ReservedRegion> reserved;
};

struct BarPlacement {
  unsigned index = 0;  // 0-5, or kRomIndex
  uint64_t size = 0;
  std::string window;  // "mmio32", "mmio64", "io"; empty when it fits nowhere
  std::optional<uint64_t> guest_address;
};

struct BarPlan {
  std::vector<BarPlacement> placements;  // in BAR order, the ROM last
  GuestWindows windows;  // as used: the 64-bit window clamped to the IOMMU's address width

  bool fits() const;
};

/// Places the device's BARs and ROM. 64-bit BARs go to the 64-bit window and fall back to the
/// 32-bit one; 32-bit BARs and the ROM need the 32-bit window; I/O BARs the I/O window.
BarPlan plan_bars(const HostDevice& device, const GuestWindows& windows, const IommuLimits& limits);

/// "BAR0", "BAR2", "ROM".
std::string bar_label(unsigned index);

}  // namespace ferry::pci::host

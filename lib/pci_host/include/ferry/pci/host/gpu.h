// What ferry knows about GPUs on the host: which functions are GPUs, and which functions share
// a GPU's slot (its HD-audio function, a USB-C controller), which usually share its IOMMU group
// and its bus reset, so they go to the same VM.
#pragma once

#include <vector>

#include "ferry/pci/host/guest_windows.h"
#include "ferry/pci/host/host_device.h"
#include "ferry/pci/host/inventory.h"

namespace ferry::pci::host {

/// A display controller: VGA (0300), XGA (0301), 3D (0302) or other (0380).
bool is_gpu(const HostDevice& device);

/// The other functions of the device's slot (same domain, bus and device number), in order.
std::vector<const HostDevice*> slot_companions(const HostDevice& device,
                                               const Inventory& inventory);

// Several devices' BARs of one kind packed into one guest window, largest first, each aligned
// to its size (power-of-two sizes packed so leave no gaps): the 64-bit memory BARs into the
// 64-bit window, or the 32-bit ones and ROMs into the 32-bit window.
struct WindowFit {
  uint64_t bytes = 0;  // the BARs' total size
  uint64_t end = 0;    // the last byte they reach (inclusive), when they start in the window
  bool fits = false;
  unsigned phys_bits_needed = 0;  // the fewest guest physical address bits that would hold them
};

WindowFit fit_in_window(const std::vector<const HostDevice*>& devices, const AddressRange& window,
                        BarKind kind);

}  // namespace ferry::pci::host

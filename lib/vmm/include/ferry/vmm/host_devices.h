// The host devices a spec assigns (`devices: - vfio: BDF`), checked before anything on the host
// is touched: each gets the verdict `ferry check` gives, and a device that is not assignable
// stops the VM with the failed checks and the commands that fix them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/pci/address_window.h"
#include "ferry/vmm/vm_config.h"

namespace ferry::vmm {

struct HostDeviceChoice {
  size_t entry = 0;  // devices[entry]
  std::string bdf;
  unsigned group = 0;
  std::string cdev;  // iommufd: its VFIO cdev, "/dev/vfio/devices/vfio0"
};

// What the IOMMUs in front of the assigned devices allow the guest's BARs: the same limits
// `ferry check` plans with (pci::host::plan_bars), so the two cannot disagree.
struct IommuConstraints {
  std::optional<unsigned> address_bits;      // the narrowest IOMMU's; none when unknown
  std::vector<pci::AddressWindow> reserved;  // every group's reserved regions, each once
};

struct HostDevicePlan {
  std::vector<HostDeviceChoice> devices;
  IommuConstraints iommu;
  // One path for the whole VM (its devices share one DMA space): iommufd when vfio.backend
  // asks for it, or under auto when every device has it; else the legacy container.
  bool iommufd = false;
  std::string why;  // the reason, for the log
};

/// Reads the host's PCI devices from `sysfs_root` and judges every vfio entry of `config` for a
/// guest with `physical_address_bits`. Guest RAM must stay out of the IOMMUs' reserved regions
/// (it is mapped for DMA at its guest addresses).
Expected<HostDevicePlan> check_host_devices(const VmConfig& config, unsigned physical_address_bits,
                                            const std::string& sysfs_root = "/sys");

}  // namespace ferry::vmm

// The host devices a spec assigns (`devices: - vfio: BDF`), checked before anything on the host
// is touched: each gets the verdict `ferry check` gives, and a device that is not assignable
// stops the VM with the failed checks and the commands that fix them.
#pragma once

#include <string>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/vmm/vm_config.h"

namespace ferry::vmm {

struct HostDeviceChoice {
  size_t entry = 0;  // devices[entry]
  std::string bdf;
  unsigned group = 0;
};

/// Reads the host's PCI devices from `sysfs_root` and judges every vfio entry of `config` for a
/// guest with `physical_address_bits`.
Expected<std::vector<HostDeviceChoice>> check_host_devices(const VmConfig& config,
                                                           unsigned physical_address_bits,
                                                           const std::string& sysfs_root = "/sys");

}  // namespace ferry::vmm

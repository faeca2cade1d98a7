// The libpci half of the inventory: enumeration, IDs and names, driver, IOMMU group, NUMA node,
// BARs, ROM and config space for every device under a sysfs tree.
#pragma once

#include <string>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/pci/host/host_device.h"

namespace ferry::pci::host {

struct LibpciScan {
  std::vector<HostDevice> devices;
  std::vector<std::string> warnings;
};

/// Reads `<sysfs_root>/bus/pci` through libpci's linux-sysfs method. libpci reports errors by
/// calling a handler that must not return; this one jumps back here and the call fails with
/// libpci's message.
Expected<LibpciScan> libpci_scan(const std::string& sysfs_root, const std::string& pci_ids);

}  // namespace ferry::pci::host

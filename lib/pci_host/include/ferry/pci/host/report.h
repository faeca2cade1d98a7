// The inventory and verdicts for people (an lspci-like table, a readiness report) and for
// programs (JSON; docs/pci.md describes the fields).
#pragma once

#include <string>
#include <vector>

#include "ferry/pci/host/inventory.h"
#include "ferry/pci/host/verdict.h"

namespace ferry::pci::host {

/// One line per device (verdicts[i] belongs to inventory.devices()[i]) and a closing line
/// about the IOMMU.
std::string format_device_table(const Inventory& inventory, const std::vector<Verdict>& verdicts);

/// Everything known about one device, then each check with its fix.
std::string format_check_report(const HostDevice& device, const Inventory& inventory,
                                const Verdict& verdict);

/// {"sysfs_root", "iommu", "devices": [...]} with every device and its verdict.
std::string devices_json(const Inventory& inventory, const std::vector<Verdict>& verdicts,
                         const std::string& sysfs_root);

/// One device and its verdict, as an element of devices_json's "devices".
std::string device_json(const HostDevice& device, const Inventory& inventory,
                        const Verdict& verdict);

}  // namespace ferry::pci::host

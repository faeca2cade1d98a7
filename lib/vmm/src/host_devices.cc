#include "ferry/vmm/host_devices.h"

#include <fmt/format.h>

#include "ferry/pci/host/bdf.h"
#include "ferry/pci/host/inventory.h"
#include "ferry/pci/host/verdict.h"
#include "ferry/vmm/memory_layout.h"

namespace ferry::vmm {
namespace {

// Every failed check with its fix, indented under the entry it belongs to.
std::string failures(const pci::host::Verdict& verdict) {
  std::string text;
  for (const pci::host::Check& check : verdict.checks) {
    if (check.status != pci::host::CheckStatus::kFail) continue;
    text += fmt::format("\n  {}: {}", check.id, check.detail);
    if (!check.fix) continue;
    text += fmt::format("\n    fix: {}", check.fix->summary);
    for (const std::string& command : check.fix->commands) text += "\n      " + command;
  }
  return text;
}

}  // namespace

Expected<std::vector<HostDeviceChoice>> check_host_devices(const VmConfig& config,
                                                           unsigned physical_address_bits,
                                                           const std::string& sysfs_root) {
  std::vector<HostDeviceChoice> choices;
  bool any = false;
  for (const DeviceConfig& d : config.devices) any |= d.type == DeviceType::kVfio;
  if (!any) return choices;
  FERRY_ASSIGN(auto inventory,
               pci::host::Inventory::scan({.sysfs_root = sysfs_root, .pci_ids = {}}));
  FERRY_ASSIGN(auto windows, pci::host::GuestWindows::for_guest(ram_top(config.memory_size),
                                                                physical_address_bits));
  for (size_t i = 0; i < config.devices.size(); ++i) {
    const DeviceConfig& d = config.devices[i];
    if (d.type != DeviceType::kVfio) continue;
    const std::string what = fmt::format("devices[{}] (vfio {})", i, d.host_bdf);
    FERRY_ASSIGN(auto bdf, pci::host::Bdf::parse(d.host_bdf));
    const pci::host::HostDevice* device = inventory.find(bdf);
    if (device == nullptr) {
      return fail(Errc::kNotFound,
                  "{}: this host has no PCI device {} (ferry devices lists the ones it has)", what,
                  d.host_bdf);
    }
    const pci::host::Verdict verdict = pci::host::assess(*device, inventory, windows);
    if (!verdict.assignable() || !device->iommu_group) {
      return fail(Errc::kInvalidArgument,
                  "{}: the host device is not assignable; nothing was changed on the host:{}\n"
                  "  (ferry check {} prints the whole report)",
                  what, failures(verdict), d.host_bdf);
    }
    choices.push_back({i, d.host_bdf, *device->iommu_group});
  }
  return choices;
}

}  // namespace ferry::vmm

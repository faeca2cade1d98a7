#include "ferry/pci/host/inventory.h"

#include <algorithm>

#include "libpci_scan.h"
#include "sysfs_tree.h"

namespace ferry::pci::host {

Expected<Inventory> Inventory::scan(const InventoryOptions& options) {
  FERRY_ASSIGN(LibpciScan found, libpci_scan(options.sysfs_root, options.pci_ids));
  const SysfsTree tree(options.sysfs_root);
  Inventory inventory;
  inventory.devices_ = std::move(found.devices);
  inventory.warnings_ = std::move(found.warnings);
  for (HostDevice& device : inventory.devices_) tree.complete(device);
  FERRY_ASSIGN(inventory.groups_, tree.groups());
  inventory.units_ = tree.units();
  inventory.drivers_ = tree.drivers();
  inventory.modules_ = tree.modules();
  inventory.iommufd_ = tree.iommufd();
  return inventory;
}

const HostDevice* Inventory::find(const Bdf& bdf) const {
  auto it = std::find_if(devices_.begin(), devices_.end(),
                         [&](const HostDevice& d) { return d.bdf == bdf; });
  return it == devices_.end() ? nullptr : &*it;
}

const IommuGroup* Inventory::group(unsigned number) const {
  auto it = std::find_if(groups_.begin(), groups_.end(),
                         [&](const IommuGroup& g) { return g.number == number; });
  return it == groups_.end() ? nullptr : &*it;
}

const IommuUnit* Inventory::iommu_unit(std::string_view name) const {
  auto it = std::find_if(units_.begin(), units_.end(),
                         [&](const IommuUnit& u) { return u.name == name; });
  return it == units_.end() ? nullptr : &*it;
}

bool Inventory::driver_available(std::string_view driver) const {
  return std::find(drivers_.begin(), drivers_.end(), driver) != drivers_.end();
}

std::optional<bool> Inventory::module_loaded(std::string_view module) const {
  if (!modules_) return std::nullopt;
  return std::find(modules_->begin(), modules_->end(), module) != modules_->end();
}

}  // namespace ferry::pci::host

// The host's PCI devices, read from a sysfs tree (the real /sys, or a captured one in tests):
// libpci enumerates them and names them from pci.ids; sysfs adds IOMMU groups, IOMMU units,
// reset methods and which drivers exist. Reading changes nothing on the host.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/pci/host/host_device.h"

namespace ferry::pci::host {

struct InventoryOptions {
  std::string sysfs_root = "/sys";
  std::string pci_ids;  // a pci.ids file; empty: libpci's default (/usr/share/misc/pci.ids)
};

// A range the IOMMU will not map for a device ("msi", "reserved", "direct"...).
struct ReservedRegion {
  uint64_t start = 0;
  uint64_t end = 0;  // inclusive
  std::string type;
};

struct IommuGroup {
  unsigned number = 0;
  std::vector<Bdf> members;  // every device in the group, the asking one included, sorted
  std::vector<ReservedRegion> reserved;
};

struct IommuUnit {
  std::string name;  // "dmar0", "ivhd0"
  std::string kind;  // "intel", "amd", or "" when unknown
  // Input address bits the unit translates for a device domain: IOVAs must stay below
  // 1 << address_bits. Known for Intel VT-d (min of MGAW and the widest SAGAW); else absent.
  std::optional<unsigned> address_bits;
};

class Inventory {
 public:
  /// Scans every PCI device under options.sysfs_root. Fails when the root holds no
  /// bus/pci/devices directory or libpci cannot read it; the error names the path.
  static Expected<Inventory> scan(const InventoryOptions& options);

  /// Sorted by address.
  const std::vector<HostDevice>& devices() const { return devices_; }
  /// The device at `bdf`, or nullptr.
  const HostDevice* find(const Bdf& bdf) const;
  /// The group, or nullptr.
  const IommuGroup* group(unsigned number) const;
  /// The IOMMU unit named `name`, or nullptr.
  const IommuUnit* iommu_unit(std::string_view name) const;
  /// True when the kernel put any device into an IOMMU group (an IOMMU is on).
  bool iommu_enabled() const { return !groups_.empty(); }
  /// True when the kernel has iommufd (/dev/iommu, seen as class/misc/iommu in sysfs).
  bool iommufd_available() const { return iommufd_; }
  /// True when the PCI driver is registered (its module is loaded or built in).
  bool driver_available(std::string_view driver) const;
  /// Whether the kernel module is loaded (or built in with parameters); nullopt when the sysfs
  /// tree does not say (a capture without module/).
  std::optional<bool> module_loaded(std::string_view module) const;
  /// What libpci warned about while reading (unreadable files, short config space).
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  std::vector<HostDevice> devices_;
  std::vector<IommuGroup> groups_;
  std::vector<IommuUnit> units_;
  std::vector<std::string> drivers_;
  std::optional<std::vector<std::string>> modules_;
  std::vector<std::string> warnings_;
  bool iommufd_ = false;
};

}  // namespace ferry::pci::host

// The sysfs half of the inventory: what libpci does not read. Reset methods, the IOMMU unit
// behind a device, the IOMMU groups with their reserved regions, the IOMMU units' address
// widths, which PCI drivers are registered, and which kernel modules are loaded.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/pci/host/inventory.h"

namespace ferry::pci::host {

class SysfsTree {
 public:
  explicit SysfsTree(std::string root) : root_(std::move(root)) {}

  /// Adds reset methods, the IOMMU unit name and the VFIO cdev to a device libpci found.
  void complete(HostDevice& device) const;
  /// Every group under kernel/iommu_groups (none without an IOMMU), sorted by number.
  Expected<std::vector<IommuGroup>> groups() const;
  /// Every unit under class/iommu.
  std::vector<IommuUnit> units() const;
  /// Whether class/misc/iommu exists: the kernel's iommufd, /dev/iommu.
  bool iommufd() const;
  /// The names under bus/pci/drivers.
  std::vector<std::string> drivers() const;
  /// The names under module/ (loaded modules, and built-in ones with parameters); nullopt when
  /// the tree has no module/ directory (a capture without it), so nothing can be said.
  std::optional<std::vector<std::string>> modules() const;

 private:
  std::string root_;
};

/// Parses one reserved_regions file ("0x00000000fee00000 0x00000000feefffff msi" per line).
Expected<std::vector<ReservedRegion>> parse_reserved_regions(const std::string& text,
                                                             const std::string& where);

/// The DMA address bits an Intel VT-d unit gives a device domain, from its capability
/// register (hex, as sysfs shows it): the smaller of MGAW and the widest supported SAGAW.
std::optional<unsigned> vtd_address_bits(const std::string& cap_hex);

}  // namespace ferry::pci::host

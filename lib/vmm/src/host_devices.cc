#include "ferry/vmm/host_devices.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "ferry/base/checked.h"
#include "ferry/pci/host/bdf.h"
#include "ferry/pci/host/inventory.h"
#include "ferry/pci/host/verdict.h"
#include "ferry/pci/host/vfio_path.h"
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

// Adds the limits of the IOMMU in front of `device` to `iommu`; fails when one of its group's
// reserved regions overlaps guest RAM, which could then not be mapped for DMA.
Expected<void> add_iommu_limits(const std::string& what, const pci::host::HostDevice& device,
                                const pci::host::Inventory& inventory, uint64_t memory_size,
                                IommuConstraints& iommu) {
  if (device.iommu_unit) {
    const pci::host::IommuUnit* unit = inventory.iommu_unit(*device.iommu_unit);
    if (unit != nullptr && unit->address_bits) {
      iommu.address_bits = std::min(iommu.address_bits.value_or(64), *unit->address_bits);
    }
  }
  const pci::host::IommuGroup* group = inventory.group(*device.iommu_group);
  if (group == nullptr) return {};
  for (const pci::host::ReservedRegion& r : group->reserved) {
    const pci::AddressWindow window{r.start, r.end - r.start + 1};
    const bool known =
        std::any_of(iommu.reserved.begin(), iommu.reserved.end(), [&](const pci::AddressWindow& w) {
          return w.base == window.base && w.size == window.size;
        });
    if (!known) iommu.reserved.push_back(window);  // groups share the MSI window, for one
    // VFIO maps over a relaxable direct region (a legacy device's RMRR); the rest it refuses.
    if (r.type == "direct-relaxable") continue;
    for (const RamRange& ram : ram_ranges(memory_size)) {
      if (ranges_overlap(r.start, r.end - r.start + 1, ram.gpa, ram.size)) {
        return fail(Errc::kInvalidArgument,
                    "{}: guest RAM {:#x}-{:#x} overlaps IOMMU group {}'s reserved region "
                    "{:#x}-{:#x} ({}), which the IOMMU will not map for DMA; give the guest "
                    "less memory",
                    what, ram.gpa, ram.gpa + ram.size - 1, group->number, r.start, r.end, r.type);
      }
    }
  }
  return {};
}

// VFIO isolates a group, not a device: every endpoint in the group of an assigned device goes to
// the same VM, so the spec must name them all (bridges in the group cannot be assigned).
Expected<void> check_whole_groups(const HostDevicePlan& plan,
                                  const pci::host::Inventory& inventory) {
  for (const HostDeviceChoice& choice : plan.devices) {
    const pci::host::IommuGroup* group = inventory.group(choice.group);
    if (group == nullptr) continue;
    std::vector<std::string> left_out;
    for (const pci::host::Bdf& member : group->members) {
      const pci::host::HostDevice* device = inventory.find(member);
      if (device == nullptr || device->header_type != 0) continue;
      const bool named =
          std::any_of(plan.devices.begin(), plan.devices.end(),
                      [&](const HostDeviceChoice& c) { return c.bdf == member.str(); });
      if (!named) left_out.push_back(member.str());
    }
    if (left_out.empty()) continue;
    std::vector<std::string> entries;
    for (const std::string& bdf : left_out) entries.push_back(fmt::format("- vfio: {}", bdf));
    return fail(Errc::kInvalidArgument,
                "devices[{}] (vfio {}): IOMMU group {} also holds {}, and VFIO gives a group to "
                "one VM whole; add {} to devices ({}), or assign none of the group; nothing was "
                "changed on the host",
                choice.entry, choice.bdf, choice.group, fmt::join(left_out, ", "),
                left_out.size() == 1 ? "it" : "them", fmt::join(entries, ", "));
  }
  return {};
}

}  // namespace

Expected<HostDevicePlan> check_host_devices(const VmConfig& config, unsigned physical_address_bits,
                                            const std::string& sysfs_root) {
  HostDevicePlan plan;
  bool any = false;
  for (const DeviceConfig& d : config.devices) any |= d.type == DeviceType::kVfio;
  if (!any) return plan;
  FERRY_ASSIGN(auto inventory,
               pci::host::Inventory::scan({.sysfs_root = sysfs_root, .pci_ids = {}}));
  FERRY_ASSIGN(auto windows, pci::host::GuestWindows::for_guest(ram_top(config.memory_size),
                                                                physical_address_bits));
  std::vector<pci::host::VfioPath> paths;
  // iommufd cannot map a BAR for DMA (docs/vfio.md, "Peer-to-peer DMA"): with p2p, auto means
  // the legacy container.
  const bool p2p_auto =
      config.vfio_p2p && config.vfio_backend == pci::host::VfioBackendChoice::kAuto;
  const pci::host::VfioBackendChoice backend =
      p2p_auto ? pci::host::VfioBackendChoice::kLegacy : config.vfio_backend;
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
    pci::host::VfioPath path = pci::host::choose_vfio_path(*device, inventory, backend);
    if (p2p_auto) {
      path.reason =
          "the legacy VFIO container (vfio.backend: auto with vfio.p2p: iommufd cannot "
          "map a BAR for DMA)";
    }
    if (path.error) {
      return fail(Errc::kUnsupported, "{}: {}; nothing was changed on the host", what, *path.error);
    }
    plan.devices.push_back({i, bdf.str(), *device->iommu_group, path.cdev});
    paths.push_back(std::move(path));
    FERRY_TRY(add_iommu_limits(what, *device, inventory, config.memory_size, plan.iommu));
  }
  FERRY_TRY(check_whole_groups(plan, inventory));
  // All or none: under auto one device without a cdev sends the whole VM the legacy way.
  plan.iommufd = std::all_of(paths.begin(), paths.end(),
                             [](const pci::host::VfioPath& p) { return p.iommufd; });
  for (size_t i = 0; i < paths.size(); ++i) {
    if (paths[i].iommufd != plan.iommufd || i + 1 == paths.size()) {
      plan.why = fmt::format("{}: {}", plan.devices[i].bdf, paths[i].reason);
      break;
    }
  }
  return plan;
}

}  // namespace ferry::vmm

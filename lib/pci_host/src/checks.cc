#include "checks.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>

#include "ferry/base/checked.h"
#include "ferry/base/units.h"
#include "ferry/pci/host/gpu.h"

namespace ferry::pci::host {
namespace {

constexpr uint64_t kPageSize = 4096;

// Drivers that leave DMA to user space (Linux's driver_managed_dma, 5.19+): a group whose other
// members have one of these, or no driver, is viable for VFIO. vfio-pci variant drivers
// ("mlx5_vfio_pci"...) count too.
bool dma_safe_driver(const std::string& driver) {
  static constexpr std::array<const char*, 3> kSafe{"vfio-pci", "pci-stub", "pcieport"};
  return std::find(kSafe.begin(), kSafe.end(), driver) != kSafe.end() ||
         driver.find("vfio") != std::string::npos;
}

std::string driver_text(const std::optional<std::string>& driver) {
  return driver ? *driver : "no driver";
}

Check pass(std::string id, std::string detail) {
  return Check{std::move(id), CheckStatus::kPass, std::move(detail), std::nullopt};
}

Check skipped(std::string id, std::string detail) {
  return Check{std::move(id), CheckStatus::kSkipped, std::move(detail), std::nullopt};
}

Check problem(std::string id, CheckStatus status, std::string detail, std::string summary,
              std::vector<std::string> commands = {}) {
  return Check{std::move(id), status, std::move(detail),
               Fix{std::move(summary), std::move(commands)}};
}

std::string describe_bar(const HostDevice& device, const BarPlacement& p) {
  if (p.index == kRomIndex) return fmt::format("ROM ({})", format_size(p.size));
  const Bar* bar = device.bar(p.index);
  return fmt::format("{} ({} {}{})", bar_label(p.index), format_size(p.size),
                     bar ? bar_kind_name(bar->kind) : "?",
                     bar && bar->prefetchable ? " prefetchable" : "");
}

std::string describe_window(const std::optional<AddressRange>& w) {
  if (!w) return "none";
  return fmt::format("{:#x}-{:#x}, {}", w->start, w->end, format_size(w->size()));
}

// The fewest guest physical address bits whose 64-bit window (from `start`) holds `size`
// bytes aligned to their size.
unsigned phys_bits_needed(uint64_t start, uint64_t size) {
  const uint64_t base = align_up(start, size);
  for (unsigned bits = kMinPhysBits; bits <= kMaxPhysBits; ++bits) {
    const uint64_t top = (uint64_t{1} << bits) - 1;
    if (base <= top && top - base >= size - 1) return bits;
  }
  return 64;
}

}  // namespace

IommuLimits iommu_limits(const HostDevice& device, const Inventory& inventory) {
  IommuLimits limits;
  if (device.iommu_group) {
    if (const IommuGroup* group = inventory.group(*device.iommu_group)) {
      limits.reserved = group->reserved;
    }
  }
  if (device.iommu_unit) {
    if (const IommuUnit* unit = inventory.iommu_unit(*device.iommu_unit)) {
      limits.address_bits = unit->address_bits;
    }
  }
  return limits;
}

Check check_iommu(const HostDevice& device, const Inventory& inventory) {
  if (!inventory.iommu_enabled()) {
    return problem(
        "iommu", CheckStatus::kFail,
        "no IOMMU: the kernel put no device into an IOMMU group (/sys/kernel/iommu_groups is "
        "empty), so it cannot isolate a device's DMA from the host",
        "Turn the IOMMU on: enable VT-d (Intel) or AMD-Vi/IOMMU (AMD) in the firmware setup, "
        "boot with intel_iommu=on iommu=pt (AMD needs only iommu=pt), then run ferry check again. "
        "On Debian/Ubuntu with GRUB:",
        {"sed -i 's/^GRUB_CMDLINE_LINUX=\"/&intel_iommu=on iommu=pt /' /etc/default/grub",
         "update-grub", "reboot"});
  }
  if (!device.iommu_group) {
    return problem("iommu", CheckStatus::kFail,
                   fmt::format("the IOMMU is on, but {} is in no IOMMU group: no IOMMU "
                               "translates for it",
                               device.bdf.str()),
                   "The firmware's IOMMU tables (DMAR/IVRS) do not cover this device; look for "
                   "its address in the kernel log and update the firmware:",
                   {fmt::format("dmesg | grep -iE 'DMAR|AMD-Vi|IOMMU' | grep -i {}",
                                device.bdf.str().substr(5))});
  }
  std::string unit = device.iommu_unit ? " behind " + *device.iommu_unit : "";
  if (device.iommu_unit) {
    const IommuUnit* u = inventory.iommu_unit(*device.iommu_unit);
    if (u && u->address_bits) unit += fmt::format(" ({}-bit DMA addresses)", *u->address_bits);
  }
  return pass("iommu", fmt::format("IOMMU group {}{}", *device.iommu_group, unit));
}

Check check_header(const HostDevice& device) {
  if (device.header_type == 0) return pass("header", "an endpoint (header type 0)");
  return problem(
      "header", CheckStatus::kFail,
      fmt::format("a {} (header type {}): vfio-pci takes only endpoints",
                  device.header_type == 1 ? "PCI bridge" : "CardBus bridge", device.header_type),
      "Bridges cannot be assigned; assign the devices behind it instead.");
}

Check check_driver(const HostDevice& device, const Inventory& inventory) {
  if (device.driver == "vfio-pci") return pass("driver", "bound to vfio-pci");
  const bool load = !inventory.driver_available("vfio-pci");
  return problem(
      "driver", CheckStatus::kFail,
      fmt::format("bound to {}, not to vfio-pci{}", driver_text(device.driver),
                  load ? " (and the vfio-pci module is not loaded)" : ""),
      fmt::format("Hand {} to vfio-pci as root (the host stops using it until you bind it back):",
                  device.bdf.str()),
      bind_to_vfio_commands(device.bdf, device.driver, load));
}

Check check_group(const HostDevice& device, const Inventory& inventory) {
  if (!device.iommu_group) return skipped("group", "no IOMMU group");
  const IommuGroup* group = inventory.group(*device.iommu_group);
  if (group == nullptr) {
    return skipped("group", fmt::format("IOMMU group {} is not listed under "
                                        "kernel/iommu_groups",
                                        *device.iommu_group));
  }
  std::vector<std::string> members;
  std::vector<std::string> blockers;
  std::vector<std::string> commands;
  bool load = !inventory.driver_available("vfio-pci");
  for (const Bdf& bdf : group->members) {
    if (bdf == device.bdf) continue;
    const HostDevice* other = inventory.find(bdf);
    const std::optional<std::string> driver = other ? other->driver : std::nullopt;
    members.push_back(fmt::format("{} ({})", bdf.str(), driver_text(driver)));
    if (driver && !dma_safe_driver(*driver)) {
      blockers.push_back(fmt::format("{} is bound to {}", bdf.str(), *driver));
      for (std::string& c : bind_to_vfio_commands(bdf, driver, load)) {
        commands.push_back(std::move(c));
      }
      load = false;
    }
  }
  if (members.empty()) return pass("group", fmt::format("alone in IOMMU group {}", group->number));
  const std::string others = fmt::format("{}", fmt::join(members, ", "));
  if (blockers.empty()) {
    return pass("group", fmt::format("IOMMU group {} is viable; it also holds {}; the "
                                     "endpoints among them can only go to the same VM",
                                     group->number, others));
  }
  return problem(
      "group", CheckStatus::kFail,
      fmt::format("IOMMU group {} is not viable: {} (a host driver that does DMA); the group "
                  "holds {}",
                  group->number, fmt::join(blockers, ", "), others),
      fmt::format("Every device in group {} must leave its host driver: hand {} to vfio-pci "
                  "too (they can only go to the same VM, or stay unused):",
                  group->number, blockers.size() == 1 ? "it" : "them"),
      std::move(commands));
}

// vfio-pci does not load vfio_iommu_type1 (no module dependency), and without it no group can
// join a VFIO container: VFIO_SET_IOMMU fails with ENODEV.
Check check_vfio_iommu(const Inventory& inventory) {
  const std::optional<bool> type1 = inventory.module_loaded("vfio_iommu_type1");
  if (!type1) {
    return skipped("vfio-iommu",
                   "this sysfs tree has no module/ directory, so whether "
                   "vfio_iommu_type1 is loaded cannot be told");
  }
  if (*type1) return pass("vfio-iommu", "vfio_iommu_type1 (VFIO's IOMMU backend) is loaded");
  const std::string missing = "vfio_iommu_type1 (VFIO's IOMMU backend) is not loaded";
  const std::string fix = "Load it as root:";
  if (inventory.module_loaded("iommufd").value_or(false)) {
    return problem("vfio-iommu", CheckStatus::kWarn,
                   missing +
                       "; /dev/vfio/vfio works only if iommufd provides it "
                       "(CONFIG_IOMMUFD_VFIO_CONTAINER)",
                   fix, {"modprobe vfio_iommu_type1"});
  }
  return problem("vfio-iommu", CheckStatus::kFail,
                 missing + ": no IOMMU group can join a VFIO container", fix,
                 {"modprobe vfio_iommu_type1"});
}

Check check_reset(const HostDevice& device) {
  if (!device.reset_methods.empty()) {
    return pass("reset",
                fmt::format("the kernel can reset it: {}", fmt::join(device.reset_methods, ", ")));
  }
  return problem("reset", CheckStatus::kWarn,
                 "the kernel knows no way to reset it (sysfs reset_method is absent: no FLR, no "
                 "PM reset, no bus reset)",
                 "Nothing to run: ferry can still assign it, but what one VM leaves in the "
                 "device reaches the next. A device alone behind its own bridge gets a bus "
                 "reset.");
}

Check check_bars(const HostDevice& device, const BarPlan& plan, const IommuLimits& limits,
                 const GuestWindows& windows) {
  if (plan.placements.empty()) return pass("bars", "no BARs");
  std::vector<std::string> placed;
  std::vector<std::string> misfits;
  uint64_t largest64 = 0;
  bool misfit32 = false;
  for (const BarPlacement& p : plan.placements) {
    if (p.guest_address) {
      placed.push_back(
          fmt::format("{} -> {} {:#x}", describe_bar(device, p), p.window, *p.guest_address));
      continue;
    }
    misfits.push_back(describe_bar(device, p));
    const Bar* bar = device.bar(p.index);
    if (bar && bar->kind == BarKind::kMemory64) {
      largest64 = std::max(largest64, p.size);
    } else {
      misfit32 = true;
    }
  }
  if (misfits.empty()) return pass("bars", fmt::format("{}", fmt::join(placed, ", ")));
  const std::string detail =
      fmt::format("{} fit no guest window (32-bit: {}; 64-bit: {}; I/O: {})",
                  fmt::join(misfits, ", "), describe_window(plan.windows.mmio32),
                  describe_window(plan.windows.mmio64), describe_window(plan.windows.io));
  if (misfit32) {
    return problem("bars", CheckStatus::kFail, detail,
                   "No fix in ferry today: a 32-bit BAR or ROM must fit ferry's 32-bit window "
                   "(512 MiB below 4 GiB) and I/O BARs its I/O window.");
  }
  const unsigned needed =
      phys_bits_needed(align_up(std::max(windows.ram_top, 4 * kGiB), kGiB), largest64);
  std::string summary = fmt::format(
      "Give the guest at least {} physical address bits, so the 64-bit window "
      "holds a {} BAR (ferry check {} --guest-phys-bits {} shows the result).",
      needed, format_size(largest64), device.bdf.str(), needed);
  if (limits.address_bits && *limits.address_bits < needed) {
    summary = fmt::format(
        "The host's IOMMU translates only {}-bit addresses, too few for a {} BAR above the "
        "guest's RAM: use a host whose IOMMU is wider, or give the guest less memory.",
        *limits.address_bits, format_size(largest64));
  }
  return problem("bars", CheckStatus::kFail, detail, summary);
}

Check check_msix(const HostDevice& device) {
  if (device.config.size() <= kConfigHeaderSize) {
    return problem("msix", CheckStatus::kWarn,
                   fmt::format("only {} bytes of config space were readable (sysfs gives the "
                               "capabilities to root only), so the interrupt capabilities are "
                               "unknown",
                               device.config.size()),
                   "Run the check as root to see them:",
                   {fmt::format("sudo ferry check {}", device.bdf.str())});
  }
  if (!device.caps.msix) {
    return skipped("msix", device.caps.msi ? "no MSI-X (MSI and INTx only)"
                                           : "no MSI-X (INTx only, or no interrupts)");
  }
  const MsixLayout& m = *device.caps.msix;
  const Bar* table_bar = device.bar(m.table_bar);
  const Bar* pba_bar = device.bar(m.pba_bar);
  const std::string layout = fmt::format(
      "{} vectors; table at {}+{:#x} ({} bytes), PBA at {}+{:#x}", m.table_size,
      bar_label(m.table_bar), m.table_offset, m.table_bytes(), bar_label(m.pba_bar), m.pba_offset);
  auto inside = [](const Bar* bar, uint64_t offset, uint64_t length) {
    return bar != nullptr && bar->kind != BarKind::kIo && range_fits(offset, length, bar->size);
  };
  if (!inside(table_bar, m.table_offset, m.table_bytes()) ||
      !inside(pba_bar, m.pba_offset, m.pba_bytes())) {
    return problem("msix", CheckStatus::kFail,
                   layout + ": the table or PBA lies outside its memory BAR",
                   "The device's MSI-X capability is broken (or its config space was read "
                   "short); nothing on the host fixes that.");
  }
  const bool aligned = is_aligned(m.table_offset, kPageSize) && is_aligned(m.pba_offset, kPageSize);
  if (aligned) return pass("msix", layout + "; both page-aligned");
  return problem(
      "msix", CheckStatus::kWarn, layout + "; not page-aligned",
      "Nothing to run: ferry traps the whole 4 KiB pages that hold the table and PBA, so other "
      "registers on those pages are emulated too (slower, still correct).");
}

namespace {

std::string describe_companion(const HostDevice& gpu, const HostDevice& other) {
  const bool same_group = gpu.iommu_group && other.iommu_group == gpu.iommu_group;
  return fmt::format(
      "{} ({}, {}){}", other.bdf.str(),
      other.class_name.empty() ? fmt::format("class {:06x}", other.class_code) : other.class_name,
      driver_text(other.driver), same_group ? " in its IOMMU group: assign it to the same VM" : "");
}

}  // namespace

Check check_gpu(const HostDevice& device, const Inventory& inventory, const BarPlan& plan) {
  std::vector<std::string> notes;
  for (const BarPlacement& p : plan.placements) {
    const Bar* bar = device.bar(p.index);
    if (bar == nullptr || !bar->prefetchable) continue;
    notes.push_back(fmt::format("aperture {} {} prefetchable{}", bar_label(p.index),
                                format_size(p.size),
                                p.guest_address ? fmt::format(" at guest {:#x}", *p.guest_address)
                                                : " (fits no guest window)"));
  }
  const std::vector<const HostDevice*> companions = slot_companions(device, inventory);
  std::vector<std::string> beside;
  for (const HostDevice* other : companions) beside.push_back(describe_companion(device, *other));
  if (!beside.empty()) notes.push_back(fmt::format("beside it: {}", fmt::join(beside, "; ")));
  const auto& methods = device.reset_methods;
  const bool flr = std::find(methods.begin(), methods.end(), "flr") != methods.end();
  if (!flr && !companions.empty() &&
      std::find(methods.begin(), methods.end(), "bus") != methods.end()) {
    notes.push_back("no FLR: its bus reset resets the functions beside it too");
  }
  const std::string detail =
      fmt::format("a GPU ({}){}{}", device.class_name.empty() ? "display class" : device.class_name,
                  notes.empty() ? "" : "; ", fmt::join(notes, "; "));
  if (device.boot_vga.value_or(false)) {
    return problem("gpu", CheckStatus::kWarn, detail + "; it is the host's boot display",
                   "Bound to vfio-pci it leaves the host without its console: use another GPU "
                   "for the host's display, or run the host with a serial console.");
  }
  return pass("gpu", detail);
}

}  // namespace ferry::pci::host

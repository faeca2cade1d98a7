// The text half of report.h.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "ferry/base/units.h"
#include "ferry/pci/host/gpu.h"
#include "ferry/pci/host/report.h"

namespace ferry::pci::host {
namespace {

std::string title(const HostDevice& d) {
  std::string cls = d.class_name.empty() ? fmt::format("Class {:04x}", d.class_id()) : d.class_name;
  std::string vendor =
      d.vendor_name.empty() ? fmt::format("Vendor {:04x}", d.vendor_id) : d.vendor_name;
  std::string device =
      d.device_name.empty() ? fmt::format("Device {:04x}", d.device_id) : d.device_name;
  return fmt::format("{}: {} {}", cls, vendor, device);
}

std::string group_text(const HostDevice& d) {
  return d.iommu_group ? std::to_string(*d.iommu_group) : "-";
}

void field(std::string& out, const char* name, const std::string& value) {
  out += fmt::format("  {:<14}{}\n", name, value);
}

std::string bar_line(const Bar& b) {
  return fmt::format("{:<5} {:>9}  {}{}  host {:#x}", bar_label(b.index), format_size(b.size),
                     bar_kind_name(b.kind), b.prefetchable ? " prefetchable" : "", b.host_address);
}

std::string capability_list(const Capabilities& caps) {
  std::vector<std::string> items;
  for (const CapabilityHeader& h : caps.list) {
    items.push_back(fmt::format("[{:x}] {}", h.offset, capability_name(h)));
  }
  return items.empty() ? "none" : fmt::format("{}", fmt::join(items, ", "));
}

void capability_details(std::string& out, const Capabilities& caps) {
  if (caps.pm) {
    field(out, "PM:",
          fmt::format("version {}, D{}{}{}", caps.pm->version, caps.pm->power_state,
                      caps.pm->no_soft_reset ? ", NoSoftRst+" : ", NoSoftRst-",
                      caps.pm->d1 || caps.pm->d2 ? ", D1/D2" : ""));
  }
  if (caps.msi) {
    field(out, "MSI:",
          fmt::format("{} vector{}{}{}", caps.msi->vectors, caps.msi->vectors == 1 ? "" : "s",
                      caps.msi->address64 ? ", 64-bit" : ", 32-bit",
                      caps.msi->per_vector_mask ? ", per-vector masking" : ""));
  }
  if (caps.msix) {
    const MsixLayout& m = *caps.msix;
    field(out, "MSI-X:",
          fmt::format("{} vectors, table {}+{:#x}, PBA {}+{:#x}", m.table_size,
                      bar_label(m.table_bar), m.table_offset, bar_label(m.pba_bar), m.pba_offset));
  }
  if (caps.express) {
    const Express& e = *caps.express;
    std::string link = "no link (root-complex integrated)";
    if (e.link) {
      link = fmt::format("link {} x{} (max {} x{})", link_speed_name(e.link->speed), e.link->width,
                         link_speed_name(e.link->max_speed), e.link->max_width);
    }
    field(out, "Express:",
          fmt::format("{} v{}, {}, FLR{}", express_type_name(e.type), e.version, link,
                      e.flr ? "+" : "-"));
  }
  if (caps.aer) field(out, "AER:", fmt::format("version {}", caps.aer->version));
  if (caps.acs) {
    field(out, "ACS:",
          fmt::format("capable: {}; enabled: {}", acs_flags_text(caps.acs->capabilities),
                      acs_flags_text(caps.acs->control)));
  }
  if (caps.sriov) {
    const Sriov& s = *caps.sriov;
    field(out, "SR-IOV:",
          fmt::format("{} VFs of {} enabled (initial {}), VF device {:04x}, "
                      "offset {}, stride {}",
                      s.num_vfs, s.total_vfs, s.initial_vfs, s.vf_device_id, s.first_vf_offset,
                      s.vf_stride));
  }
  for (const ResizableBarEntry& r : caps.resizable_bars) {
    std::vector<std::string> sizes;
    for (uint64_t size : r.supported_sizes) sizes.push_back(format_size(size));
    field(out, "Resizable BAR:",
          fmt::format("{}: now {}, supports {}", bar_label(r.bar), format_size(r.current_size),
                      fmt::join(sizes, " ")));
  }
}

std::string bars_total(const HostDevice& d) {
  std::vector<std::string> sizes;
  for (const Bar& b : d.bars) {
    if (b.kind != BarKind::kIo) sizes.push_back(format_size(b.size));
  }
  return sizes.empty() ? "no memory BARs" : fmt::format("{}", fmt::join(sizes, " + "));
}

// The GPUs of the table: their BARs, resets and slot companions, and whether all their 64-bit
// BARs fit one guest's 64-bit window together (the narrowest any of them is given).
std::string gpu_section(const Inventory& inventory, const std::vector<Verdict>& verdicts) {
  const auto& devices = inventory.devices();
  std::vector<const HostDevice*> gpus;
  std::optional<AddressRange> window;
  std::string lines;
  for (size_t i = 0; i < devices.size() && i < verdicts.size(); ++i) {
    const HostDevice& d = devices[i];
    if (!is_gpu(d)) continue;
    gpus.push_back(&d);
    const auto& w = verdicts[i].bars.windows.mmio64;
    if (w && (!window || w->end < window->end)) window = w;
    std::vector<std::string> beside;
    for (const HostDevice* c : slot_companions(d, inventory)) beside.push_back(c->bdf.str());
    lines += fmt::format(
        "  {:<13} BARs {}; reset {}{}\n", d.bdf.str(), bars_total(d),
        d.reset_methods.empty() ? "none" : fmt::format("{}", fmt::join(d.reset_methods, ", ")),
        beside.empty() ? "" : fmt::format("; with {}", fmt::join(beside, ", ")));
  }
  if (gpus.empty()) return "";
  std::string out = fmt::format("\nGPUs ({}):\n{}", gpus.size(), lines);
  const AddressRange low{kMmio32Start, kMmio32End};
  const WindowFit fit32 = fit_in_window(gpus, low, BarKind::kMemory32);
  out += fmt::format(
      "Together their 32-bit BARs and ROMs take {} of the guest's {} 32-bit window: {}.\n",
      format_size(fit32.bytes), format_size(low.size()),
      fit32.fits ? "they fit" : "they do not fit, so not all of them can go to one guest");
  if (!window) return out + "The guest has no 64-bit BAR window (RAM reaches its top).\n";
  const WindowFit fit = fit_in_window(gpus, *window, BarKind::kMemory64);
  out += fmt::format("Together their 64-bit BARs take {} of the guest's 64-bit window {:#x}-{:#x}",
                     format_size(fit.bytes), window->start, window->end);
  if (fit.fits) return out + fmt::format(": they fit (up to {:#x}).\n", fit.end);
  return out + fmt::format(
                   ": they do not fit; one guest with all of them needs at least {} "
                   "physical address bits (--guest-phys-bits) or less RAM.\n",
                   fit.phys_bits_needed);
}

}  // namespace

std::string format_device_table(const Inventory& inventory, const std::vector<Verdict>& verdicts) {
  std::string out = fmt::format("{:<13} {:<9} {:>5}  {:<14} {:<24} {}\n", "BDF", "IDS", "GROUP",
                                "DRIVER", "VERDICT", "DEVICE");
  const auto& devices = inventory.devices();
  for (size_t i = 0; i < devices.size() && i < verdicts.size(); ++i) {
    const HostDevice& d = devices[i];
    out += fmt::format("{:<13} {:04x}:{:04x} {:>5}  {:<14} {:<24} {}\n", d.bdf.str(), d.vendor_id,
                       d.device_id, group_text(d), d.driver.value_or("-"), verdicts[i].summary(),
                       title(d));
  }
  if (devices.empty()) out += "(no PCI devices)\n";
  out += gpu_section(inventory, verdicts);
  if (std::any_of(devices.begin(), devices.end(),
                  [](const HostDevice& d) { return d.config.size() <= kConfigHeaderSize; })) {
    out += "Config space beyond the header needs root: run as root for capabilities.\n";
  }
  if (!inventory.iommu_enabled()) {
    out += "No IOMMU is on, so no device is assignable; ferry check <BDF> shows how to fix it.\n";
  }
  return out;
}

std::string format_check_report(const HostDevice& d, const Inventory& inventory,
                                const Verdict& verdict) {
  std::string out = fmt::format("{}  {}\n", d.bdf.str(), title(d));
  std::string subsystem = fmt::format("{:04x}:{:04x}", d.subsystem_vendor_id, d.subsystem_id);
  if (!d.subsystem_name.empty()) subsystem += " (" + d.subsystem_name + ")";
  field(out, "IDs:",
        fmt::format("{:04x}:{:04x} rev {:02x}, class {:06x}, subsystem {}", d.vendor_id,
                    d.device_id, d.revision, d.class_code, subsystem));
  field(out, "Driver:", d.driver.value_or("none"));
  std::string group = "none";
  if (d.iommu_group) {
    group = std::to_string(*d.iommu_group);
    if (const IommuGroup* g = inventory.group(*d.iommu_group)) {
      std::vector<std::string> others;
      for (const Bdf& b : g->members) {
        if (b != d.bdf) others.push_back(b.str());
      }
      group += others.empty() ? " (alone)" : fmt::format(" (with {})", fmt::join(others, ", "));
    }
  }
  field(out, "IOMMU group:", group);
  field(out, "NUMA node:", d.numa_node < 0 ? "-" : std::to_string(d.numa_node));
  if (d.bars.empty()) field(out, "BARs:", "none");
  for (size_t i = 0; i < d.bars.size(); ++i) field(out, i == 0 ? "BARs:" : "", bar_line(d.bars[i]));
  field(out, "ROM:",
        d.rom ? fmt::format("{}  host {:#x}", format_size(d.rom->size), d.rom->host_address)
              : "none");
  field(out, "Config space:",
        fmt::format("{} bytes readable{}", d.config.size(),
                    d.config.size() <= kConfigHeaderSize ? " (the rest needs root)" : ""));
  field(out, "Capabilities:", capability_list(d.caps));
  capability_details(out, d.caps);
  if (d.boot_vga.value_or(false)) field(out, "Boot display:", "yes (sysfs boot_vga)");
  field(out, "Reset:",
        d.reset_methods.empty() ? "none" : fmt::format("{}", fmt::join(d.reset_methods, ", ")));

  out += fmt::format("\nVerdict: {}\n", verdict.summary());
  for (const Check& c : verdict.checks) {
    out += fmt::format("  {:<9} {:<10} {}\n", fmt::format("[{}]", check_status_name(c.status)),
                       c.id, c.detail);
    if (!c.fix) continue;
    out += fmt::format("{:23}fix: {}\n", "", c.fix->summary);
    for (const std::string& command : c.fix->commands) out += fmt::format("{:25}{}\n", "", command);
  }
  return out;
}

}  // namespace ferry::pci::host

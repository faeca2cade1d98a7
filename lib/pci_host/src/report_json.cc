// The JSON half of report.h.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "ferry/pci/host/gpu.h"
#include "ferry/pci/host/report.h"

namespace ferry::pci::host {
namespace {

using nlohmann::json;

// Names come from pci.ids and sysfs, which are bytes; JSON is UTF-8. Every report goes out
// through here, so a byte that is not UTF-8 becomes U+FFFD instead of a type_error abort.
std::string to_text(const json& doc) {
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string hex4(uint16_t value) { return fmt::format("{:04x}", value); }
std::string hex_address(uint64_t value) { return fmt::format("{:#x}", value); }

json optional_string(const std::optional<std::string>& value) {
  return value ? json(*value) : json(nullptr);
}

json capabilities_json(const Capabilities& caps) {
  json out = json::object();
  json list = json::array();
  for (const CapabilityHeader& h : caps.list) {
    list.push_back({{"id", fmt::format("{:#x}", h.id)},
                    {"extended", h.extended},
                    {"offset", h.offset},
                    {"name", capability_name(h)}});
  }
  out["list"] = list;
  if (caps.pm) {
    out["pm"] = {{"version", caps.pm->version},
                 {"no_soft_reset", caps.pm->no_soft_reset},
                 {"power_state", caps.pm->power_state}};
  }
  if (caps.msi) {
    out["msi"] = {{"vectors", caps.msi->vectors},
                  {"address64", caps.msi->address64},
                  {"per_vector_mask", caps.msi->per_vector_mask}};
  }
  if (caps.msix) {
    const MsixLayout& m = *caps.msix;
    out["msix"] = {{"table_size", m.table_size},
                   {"table_bar", m.table_bar},
                   {"table_offset", m.table_offset},
                   {"pba_bar", m.pba_bar},
                   {"pba_offset", m.pba_offset}};
  }
  if (caps.express) {
    const Express& e = *caps.express;
    json express = {{"version", e.version},
                    {"type", express_type_name(e.type)},
                    {"flr", e.flr},
                    {"max_payload", e.max_payload}};
    if (e.link) {
      express["link"] = {{"speed", link_speed_name(e.link->speed)},
                         {"width", e.link->width},
                         {"max_speed", link_speed_name(e.link->max_speed)},
                         {"max_width", e.link->max_width}};
    }
    out["express"] = express;
  }
  if (caps.aer) {
    out["aer"] = {{"version", caps.aer->version},
                  {"ecrc_generation", caps.aer->ecrc_generation},
                  {"ecrc_check", caps.aer->ecrc_check}};
  }
  if (caps.acs) {
    out["acs"] = {{"capabilities", caps.acs->capabilities}, {"control", caps.acs->control}};
  }
  if (caps.sriov) {
    const Sriov& s = *caps.sriov;
    out["sriov"] = {{"total_vfs", s.total_vfs},
                    {"initial_vfs", s.initial_vfs},
                    {"num_vfs", s.num_vfs},
                    {"vf_enabled", s.vf_enabled},
                    {"vf_device_id", hex4(s.vf_device_id)},
                    {"first_vf_offset", s.first_vf_offset},
                    {"vf_stride", s.vf_stride}};
  }
  if (!caps.resizable_bars.empty()) {
    json bars = json::array();
    for (const ResizableBarEntry& r : caps.resizable_bars) {
      bars.push_back({{"bar", r.bar},
                      {"current_size", r.current_size},
                      {"supported_sizes", r.supported_sizes}});
    }
    out["resizable_bars"] = bars;
  }
  return out;
}

json verdict_json(const Verdict& verdict) {
  json checks = json::array();
  for (const Check& c : verdict.checks) {
    json check = {{"id", c.id}, {"status", check_status_name(c.status)}, {"detail", c.detail}};
    check["fix"] =
        c.fix ? json{{"summary", c.fix->summary}, {"commands", c.fix->commands}} : json(nullptr);
    checks.push_back(check);
  }
  json placements = json::array();
  for (const BarPlacement& p : verdict.bars.placements) {
    placements.push_back(
        {{"bar", bar_label(p.index)},
         {"size", p.size},
         {"window", p.window.empty() ? json(nullptr) : json(p.window)},
         {"guest_address", p.guest_address ? json(hex_address(*p.guest_address)) : json(nullptr)}});
  }
  return {{"assignable", verdict.assignable()},
          {"summary", verdict.summary()},
          {"checks", checks},
          {"bar_placement", placements}};
}

json device_object(const HostDevice& d, const Inventory& inventory, const Verdict& verdict) {
  json bars = json::array();
  for (const Bar& b : d.bars) {
    bars.push_back({{"index", b.index},
                    {"type", bar_kind_name(b.kind)},
                    {"prefetchable", b.prefetchable},
                    {"size", b.size},
                    {"host_address", hex_address(b.host_address)}});
  }
  json members = json::array();
  if (d.iommu_group) {
    if (const IommuGroup* g = inventory.group(*d.iommu_group)) {
      for (const Bdf& b : g->members) members.push_back(b.str());
    }
  }
  json companions = json::array();
  for (const HostDevice* c : slot_companions(d, inventory)) companions.push_back(c->bdf.str());
  return {
      {"bdf", d.bdf.str()},
      {"vendor_id", hex4(d.vendor_id)},
      {"device_id", hex4(d.device_id)},
      {"class", fmt::format("{:06x}", d.class_code)},
      {"revision", d.revision},
      {"header_type", d.header_type},
      {"vendor_name", d.vendor_name},
      {"device_name", d.device_name},
      {"class_name", d.class_name},
      {"subsystem",
       {{"vendor_id", hex4(d.subsystem_vendor_id)},
        {"device_id", hex4(d.subsystem_id)},
        {"name", d.subsystem_name}}},
      {"driver", optional_string(d.driver)},
      {"iommu_group", d.iommu_group ? json(*d.iommu_group) : json(nullptr)},
      {"iommu_group_members", members},
      {"iommu_unit", optional_string(d.iommu_unit)},
      {"numa_node", d.numa_node},
      {"bars", bars},
      {"rom", d.rom
                  ? json{{"size", d.rom->size}, {"host_address", hex_address(d.rom->host_address)}}
                  : json(nullptr)},
      {"config_size", d.config.size()},
      {"capabilities", capabilities_json(d.caps)},
      {"reset_methods", d.reset_methods},
      {"gpu", is_gpu(d)},
      {"slot_companions", companions},
      {"boot_vga", d.boot_vga ? json(*d.boot_vga) : json(nullptr)},
      {"verdict", verdict_json(verdict)},
  };
}

}  // namespace

std::string devices_json(const Inventory& inventory, const std::vector<Verdict>& verdicts,
                         const std::string& sysfs_root) {
  json devices = json::array();
  const auto& all = inventory.devices();
  for (size_t i = 0; i < all.size() && i < verdicts.size(); ++i) {
    devices.push_back(device_object(all[i], inventory, verdicts[i]));
  }
  json out = {{"sysfs_root", sysfs_root},
              {"iommu", inventory.iommu_enabled()},
              {"devices", devices},
              {"warnings", inventory.warnings()}};
  return to_text(out);
}

std::string device_json(const HostDevice& device, const Inventory& inventory,
                        const Verdict& verdict) {
  return to_text(device_object(device, inventory, verdict));
}

}  // namespace ferry::pci::host

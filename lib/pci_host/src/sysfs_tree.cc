#include "sysfs_tree.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "ferry/base/file.h"

namespace ferry::pci::host {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxAttributeSize = 64 * 1024;

// The text of a sysfs attribute without its trailing newline; nullopt when absent.
std::optional<std::string> read_attribute(const std::string& path) {
  auto bytes = read_file(path, kMaxAttributeSize);
  if (!bytes) return std::nullopt;
  std::string text(bytes->begin(), bytes->end());
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::vector<std::string> entry_names(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

void SysfsTree::complete(HostDevice& device) const {
  const std::string dir = root_ + "/bus/pci/devices/" + device.bdf.str();
  if (auto methods = read_attribute(dir + "/reset_method")) {
    std::istringstream words(*methods);
    for (std::string method; words >> method;) device.reset_methods.push_back(method);
  }
  if (auto boot_vga = read_attribute(dir + "/boot_vga")) device.boot_vga = *boot_vga == "1";
  std::error_code ec;
  fs::path unit = fs::read_symlink(dir + "/iommu", ec);
  if (!ec) device.iommu_unit = unit.filename().string();
  for (const std::string& name : entry_names(dir + "/vfio-dev")) {
    if (name.rfind("vfio", 0) == 0) device.vfio_cdev = name;
  }
}

bool SysfsTree::iommufd() const {
  std::error_code ec;
  return fs::exists(root_ + "/class/misc/iommu", ec);
}

Expected<std::vector<IommuGroup>> SysfsTree::groups() const {
  std::vector<IommuGroup> groups;
  const std::string base = root_ + "/kernel/iommu_groups";
  for (const std::string& name : entry_names(base)) {
    unsigned number = 0;
    char extra = 0;
    if (std::sscanf(name.c_str(), "%u%c", &number, &extra) != 1) continue;
    IommuGroup group{.number = number, .members = {}, .reserved = {}};
    for (const std::string& member : entry_names(base + "/" + name + "/devices")) {
      if (auto bdf = Bdf::parse(member)) group.members.push_back(*bdf);
    }
    std::sort(group.members.begin(), group.members.end());
    const std::string regions_path = base + "/" + name + "/reserved_regions";
    if (auto text = read_attribute(regions_path)) {
      auto regions = parse_reserved_regions(*text, regions_path);
      if (!regions) return fail(regions.error());
      group.reserved = std::move(*regions);
    }
    groups.push_back(std::move(group));
  }
  std::sort(groups.begin(), groups.end(),
            [](const IommuGroup& a, const IommuGroup& b) { return a.number < b.number; });
  return groups;
}

std::vector<IommuUnit> SysfsTree::units() const {
  std::vector<IommuUnit> units;
  const std::string base = root_ + "/class/iommu";
  for (const std::string& name : entry_names(base)) {
    IommuUnit unit{.name = name, .kind = "", .address_bits = std::nullopt};
    if (auto cap = read_attribute(base + "/" + name + "/intel-iommu/cap")) {
      unit.kind = "intel";
      unit.address_bits = vtd_address_bits(*cap);
    } else if (fs::exists(base + "/" + name + "/amd-iommu")) {
      unit.kind = "amd";
    }
    units.push_back(std::move(unit));
  }
  return units;
}

std::vector<std::string> SysfsTree::drivers() const {
  return entry_names(root_ + "/bus/pci/drivers");
}

std::optional<std::vector<std::string>> SysfsTree::modules() const {
  std::error_code ec;
  if (!fs::is_directory(root_ + "/module", ec)) return std::nullopt;
  return entry_names(root_ + "/module");
}

Expected<std::vector<ReservedRegion>> parse_reserved_regions(const std::string& text,
                                                             const std::string& where) {
  std::vector<ReservedRegion> regions;
  std::istringstream lines(text);
  int number = 0;
  for (std::string line; std::getline(lines, line);) {
    ++number;
    if (line.empty()) continue;
    uint64_t start = 0, end = 0;
    char type[32] = {};
    if (std::sscanf(line.c_str(), "%" SCNx64 " %" SCNx64 " %31s", &start, &end, type) != 3 ||
        end < start) {
      return fail(Errc::kInvalidArgument,
                  "{}:{}: '{}' is not 'START END TYPE' (hex addresses, START <= END)", where,
                  number, line);
    }
    regions.push_back({.start = start, .end = end, .type = type});
  }
  return regions;
}

std::optional<unsigned> vtd_address_bits(const std::string& cap_hex) {
  uint64_t cap = 0;
  if (std::sscanf(cap_hex.c_str(), "%" SCNx64, &cap) != 1) return std::nullopt;
  const unsigned mgaw = static_cast<unsigned>((cap >> 16) & 0x3f) + 1;
  const unsigned sagaw = static_cast<unsigned>((cap >> 8) & 0x1f);
  unsigned widest = 0;
  for (unsigned bit = 0; bit < 4; ++bit) {
    if (sagaw & (1u << bit)) widest = 30 + 9 * bit;  // 0: 30-bit, 1: 39, 2: 48, 3: 57
  }
  if (widest == 0) return std::nullopt;
  return std::min(mgaw, widest);
}

}  // namespace ferry::pci::host

#include "libpci_scan.h"

#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstdarg>
#include <cstdio>
#include <filesystem>

#include "ferry/base/file.h"
#include "libpci_api.h"

namespace ferry::pci::host {
namespace {

// Linux IORESOURCE_* flags as the sysfs resource file shows them.
constexpr uint64_t kResourceIo = 0x100;
constexpr uint64_t kResourcePrefetch = 0x2000;
constexpr uint64_t kResourceMem64 = 0x100000;

// libpci's error callback must not return. It jumps to the innermost guarded() call of this
// thread. Between setjmp and the libpci call there are only trivially destructible objects, so
// nothing is skipped that needs cleaning up (the rule for setjmp/longjmp in C++).
thread_local std::jmp_buf* t_jump = nullptr;
thread_local std::array<char, 512> t_error;
thread_local std::vector<std::string>* t_warnings = nullptr;

// The GNU spelling: libpci declares the callback pointer with __attribute__((noreturn)), and
// clang does not treat [[noreturn]] as the same function type.
__attribute__((noreturn)) void on_error(char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vsnprintf(t_error.data(), t_error.size(), format, args);
  va_end(args);
  std::longjmp(*t_jump, 1);
}

void on_warning(char* format, ...) {
  std::array<char, 512> text;
  va_list args;
  va_start(args, format);
  std::vsnprintf(text.data(), text.size(), format, args);
  va_end(args);
  if (t_warnings != nullptr) t_warnings->emplace_back(text.data());
}

void on_debug(char*, ...) {}

// Runs `call` (plain libpci calls only); false when libpci reported an error (in t_error).
template <class Call>
bool guarded(Call&& call) {
  std::jmp_buf jump;
  std::jmp_buf* outer = t_jump;
  t_jump = &jump;
  if (setjmp(jump) != 0) {
    t_jump = outer;
    return false;
  }
  call();
  t_jump = outer;
  return true;
}

// Owns the pci_access. After a libpci error its state is unknown, so it is then leaked rather
// than cleaned up.
class Access {
 public:
  explicit Access(const LibpciApi& api) : api_(api), access_(api.alloc()) {}
  ~Access() {
    if (access_ != nullptr && healthy_) api_.cleanup(access_);
  }
  Access(const Access&) = delete;
  Access& operator=(const Access&) = delete;

  pci_access* get() const { return access_; }
  void poison() { healthy_ = false; }

 private:
  const LibpciApi& api_;
  pci_access* access_;
  bool healthy_ = true;
};

std::string name_or_empty(const char* name) { return name != nullptr ? name : ""; }

constexpr int kLookup = PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB;

void fill_names(const LibpciApi& api, pci_access* a, const pci_dev* d, HostDevice& out) {
  std::array<char, 256> vendor{}, device{}, cls{}, sub_vendor{}, sub_device{};
  const char* v = nullptr;
  const char* dev = nullptr;
  const char* c = nullptr;
  const char* sv = nullptr;
  const char* sd = nullptr;
  const bool ok = guarded([&] {
    v = api.lookup_name(a, vendor.data(), vendor.size(), kLookup | PCI_LOOKUP_VENDOR, d->vendor_id);
    dev = api.lookup_name(a, device.data(), device.size(), kLookup | PCI_LOOKUP_DEVICE,
                          d->vendor_id, d->device_id);
    c = api.lookup_name(a, cls.data(), cls.size(), kLookup | PCI_LOOKUP_CLASS, d->device_class);
    if (d->subsys_vendor_id != 0 && d->subsys_vendor_id != 0xffff) {
      sv = api.lookup_name(a, sub_vendor.data(), sub_vendor.size(),
                           kLookup | PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_VENDOR, d->subsys_vendor_id);
      sd = api.lookup_name(a, sub_device.data(), sub_device.size(),
                           kLookup | PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_DEVICE, d->vendor_id,
                           d->device_id, d->subsys_vendor_id, d->subsys_id);
    }
  });
  if (!ok) return;  // names are a convenience: a broken pci.ids leaves them empty
  out.vendor_name = name_or_empty(v);
  out.device_name = name_or_empty(dev);
  out.class_name = name_or_empty(c);
  out.subsystem_name = name_or_empty(sv);
  if (sd != nullptr) {
    out.subsystem_name += out.subsystem_name.empty() ? sd : std::string(" ") + sd;
  }
}

// Reads as much config space as the file gives: 4096 (PCIe, root), 256 (PCI, root) or 64.
ConfigSpace read_config(const LibpciApi& api, pci_dev* d) {
  for (size_t size : {kExtendedConfigSize, kConfigSize, kConfigHeaderSize}) {
    std::vector<uint8_t> bytes(size);
    int read = 0;
    if (!guarded([&] { read = api.read_block(d, 0, bytes.data(), static_cast<int>(size)); })) {
      break;
    }
    if (read) return ConfigSpace(std::move(bytes));
  }
  return ConfigSpace();
}

// The BAR type from the kernel's resource flags; when those are empty, from the BAR register.
Bar make_bar(const pci_dev* d, const ConfigSpace& config, unsigned i) {
  Bar bar{.index = i, .size = d->size[i]};
  const uint64_t flags = d->flags[i];
  if (flags != 0) {
    bar.kind = (flags & kResourceIo)      ? BarKind::kIo
               : (flags & kResourceMem64) ? BarKind::kMemory64
                                          : BarKind::kMemory32;
    bar.prefetchable = (flags & kResourcePrefetch) != 0;
  } else if (auto reg = config.read32(0x10 + 4 * i)) {
    bar.kind = (*reg & 1)               ? BarKind::kIo
               : ((*reg >> 1) & 3) == 2 ? BarKind::kMemory64
                                        : BarKind::kMemory32;
    bar.prefetchable = !(*reg & 1) && (*reg & 8);
  }
  const uint64_t mask = bar.kind == BarKind::kIo ? ~uint64_t{3} : PCI_ADDR_MEM_MASK;
  bar.host_address = d->base_addr[i] & mask;
  return bar;
}

Expected<HostDevice> read_device(const LibpciApi& api, pci_access* a, pci_dev* d) {
  constexpr int kFill = PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_CLASS_EXT | PCI_FILL_SUBSYS |
                        PCI_FILL_BASES | PCI_FILL_SIZES | PCI_FILL_ROM_BASE | PCI_FILL_IO_FLAGS |
                        PCI_FILL_NUMA_NODE | PCI_FILL_IOMMU_GROUP | PCI_FILL_DRIVER;
  const char* driver = nullptr;
  const char* group = nullptr;
  if (!guarded([&] {
        api.fill_info(d, kFill);
        driver = api.get_string_property(d, PCI_FILL_DRIVER);
        group = api.get_string_property(d, PCI_FILL_IOMMU_GROUP);
      })) {
    return fail(Errc::kIo, "libpci: {}", t_error.data());
  }
  HostDevice out;
  out.bdf = Bdf{.domain = static_cast<uint32_t>(d->domain),
                .bus = d->bus,
                .device = d->dev,
                .function = d->func};
  out.vendor_id = d->vendor_id;
  out.device_id = d->device_id;
  out.class_code = static_cast<uint32_t>(d->device_class) << 8 | d->prog_if;
  out.revision = d->rev_id;
  out.subsystem_vendor_id = d->subsys_vendor_id;
  out.subsystem_id = d->subsys_id;
  if (driver != nullptr) out.driver = driver;
  if (group != nullptr) {
    unsigned number = 0;
    if (std::sscanf(group, "%u", &number) == 1) out.iommu_group = number;
  }
  out.numa_node = d->numa_node;
  out.config = read_config(api, d);
  out.header_type = out.config.header_type().value_or(0);
  out.caps = parse_capabilities(out.config);
  for (unsigned i = 0; i < 6; ++i) {
    if (d->size[i] != 0) out.bars.push_back(make_bar(d, out.config, i));
  }
  if (d->rom_size != 0) {
    out.rom = Rom{.size = d->rom_size, .host_address = d->rom_base_addr & PCI_ADDR_MEM_MASK};
  }
  fill_names(api, a, d, out);
  return out;
}

// libpci opens each device's attributes itself, and a FIFO among them would block it forever.
// Real sysfs holds only regular files, directories and links; refuse anything else first.
Expected<void> refuse_special_attributes(const std::string& devices_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const fs::directory_entry& device : fs::directory_iterator(devices_path, ec)) {
    std::error_code inner;
    for (const fs::directory_entry& attribute : fs::directory_iterator(device.path(), inner)) {
      if (attribute.is_directory(inner)) continue;
      auto usable = check_not_special(attribute.path().string());
      if (!usable) return fail(usable.error().context("sysfs"));
    }
  }
  return {};
}

}  // namespace

Expected<LibpciScan> libpci_scan(const std::string& sysfs_root, const std::string& pci_ids) {
  std::string bus_path = sysfs_root + "/bus/pci";
  std::error_code ec;
  if (!std::filesystem::is_directory(bus_path + "/devices", ec)) {
    return fail(Errc::kNotFound,
                "{}/devices does not exist: {} is not a sysfs tree with PCI devices; give the "
                "sysfs root (the default is /sys, and it must be mounted)",
                bus_path, sysfs_root);
  }
  FERRY_TRY(refuse_special_attributes(bus_path + "/devices"));
  if (!pci_ids.empty()) {
    // libpci opens it itself and would block forever on a FIFO: refuse anything but a file.
    auto ids_file = open_regular_file(pci_ids);
    if (!ids_file) return fail(ids_file.error().context("pci.ids"));
  }
  FERRY_ASSIGN(const LibpciApi* api, libpci());
  LibpciScan scan;
  t_warnings = &scan.warnings;
  Access access(*api);
  pci_access* a = access.get();
  a->method = PCI_ACCESS_SYS_BUS_PCI;
  a->error = on_error;
  a->warning = on_warning;
  a->debug = on_debug;
  std::string ids = pci_ids;  // libpci keeps the pointer: it must live as long as `access`
  if (!guarded([&] {
        api->set_param(a, const_cast<char*>("sysfs.path"), bus_path.data());
        if (!ids.empty()) api->set_name_list_path(a, ids.data(), 0);
        api->init(a);
        api->scan_bus(a);
      })) {
    access.poison();
    t_warnings = nullptr;
    return fail(Errc::kIo, "libpci could not read {}: {}", bus_path, t_error.data());
  }
  for (pci_dev* d = a->devices; d != nullptr; d = d->next) {
    auto device = read_device(*api, a, d);
    if (!device) {
      access.poison();
      t_warnings = nullptr;
      return fail(device.error().context(fmt::format("reading PCI device {:04x}:{:02x}:{:02x}.{}",
                                                     d->domain, d->bus, d->dev, d->func)));
    }
    scan.devices.push_back(std::move(*device));
  }
  t_warnings = nullptr;
  std::sort(scan.devices.begin(), scan.devices.end(),
            [](const HostDevice& x, const HostDevice& y) { return x.bdf < y.bdf; });
  return scan;
}

}  // namespace ferry::pci::host

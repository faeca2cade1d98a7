#include "ferry/vmm/config_loader.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>

#include "ferry/base/file.h"
#include "ferry/pci/host/bdf.h"
#include "ferry/vmm/builtin_payloads.h"
#include "ferry/vmm/memory_layout.h"
#include "ferry/vmm/payload_plan.h"
#include "ferry/vmm/serial_output.h"
#include "spec_document.h"
#include "spec_overrides.h"
#include "yaml_reader.h"

namespace ferry::vmm {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxSpecBytes = 1 * kMiB;
constexpr unsigned kMaxVcpus = 256;  // MSHV's limit; KVM's own is checked when the VM is made

std::string absolute_from(const std::string& base_dir, const std::string& path) {
  fs::path p(path);
  return (p.is_absolute() ? p : fs::path(base_dir) / p).lexically_normal().string();
}

std::string builtin_names() {
  std::string names;
  for (const BuiltinPayload& p : builtin_payloads()) {
    if (!names.empty()) names += ", ";
    names += p.name;
  }
  return names;
}

constexpr const char* kNameRule = "at most 64 letters, digits, '.', '_' or '-'";

bool is_tidy_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 &&
         name.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyz"
             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == std::string::npos;
}

// `name` with every character the rule refuses replaced by '-', cut to 64.
std::string tidied_name(std::string name) {
  for (char& c : name) {
    if (!is_tidy_name(std::string(1, c))) c = '-';
  }
  name.resize(std::min<size_t>(name.size(), 64));
  return name.empty() ? "vm" : name;
}

class SpecParser {
 public:
  SpecParser(const YamlReader& reader, std::string base_dir)
      : r_(reader), base_dir_(std::move(base_dir)) {}

  Expected<VmConfig> parse(const YAML::Node& root, const std::string& default_name);

 private:
  Expected<void> parse_memory(const YAML::Node& node, VmConfig& config);
  Expected<void> parse_payload(const YAML::Node& node, PayloadConfig& payload);
  Expected<void> parse_file_payload(const YAML::Node& node, PayloadConfig& payload);
  Expected<void> parse_linux_payload(const YAML::Node& node, PayloadConfig& payload);
  Expected<void> check_payload_loads(const YAML::Node& node, const VmConfig& config);
  Expected<void> parse_serial(const YAML::Node& node, SerialConfig& serial);
  Expected<void> parse_devices(const YAML::Node& node, std::vector<DeviceConfig>& devices);
  Expected<void> parse_vfio(const YAML::Node& node, VmConfig& config);
  Expected<std::string> parse_host_device(const YAML::Node& node, const std::string& path,
                                          std::map<std::string, size_t>& taken, size_t entry);

  const YamlReader& r_;
  std::string base_dir_;
};

Expected<VmConfig> SpecParser::parse(const YAML::Node& root, const std::string& default_name) {
  if (!root.IsDefined() || root.IsNull()) {
    return fail(r_.error(root, "", "is empty; it needs at least a payload (see docs/config.md)"));
  }
  FERRY_TRY(r_.check_map(
      root, "", {"version", "name", "vcpus", "memory", "payload", "serial", "devices", "vfio"}));
  VmConfig config;
  if (root["version"]) FERRY_TRY(r_.integer(root["version"], "version", 1, 1));
  config.name = default_name;
  if (root["name"]) {
    FERRY_ASSIGN(config.name, r_.string(root["name"], "name"));
    if (!is_tidy_name(config.name)) {
      return fail(r_.error(root["name"], "name", fmt::format("use {}", kNameRule)));
    }
  } else if (!is_tidy_name(config.name)) {
    // A null node has no position: the error names the file alone.
    return fail(r_.error(YAML::Node(), "name",
                         fmt::format("'{}' comes from the spec's file name, and a VM name is {}; "
                                     "add name: {} to the spec, or rename the file",
                                     config.name, kNameRule, tidied_name(config.name))));
  }
  if (root["vcpus"]) {
    FERRY_ASSIGN(uint64_t vcpus, r_.integer(root["vcpus"], "vcpus", 1, kMaxVcpus));
    config.vcpus = static_cast<unsigned>(vcpus);
  }
  if (root["memory"]) FERRY_TRY(parse_memory(root["memory"], config));
  if (!root["payload"]) {
    return fail(r_.error(root, "payload",
                         "is missing; say what to run, e.g. payload: {builtin: "
                         "hello}, payload: {file: guest.elf} or payload: {kernel: bzImage}"));
  }
  FERRY_TRY(parse_payload(root["payload"], config.payload));
  FERRY_TRY(check_payload_loads(root["payload"], config));
  if (root["serial"]) FERRY_TRY(parse_serial(root["serial"], config.serial));
  if (root["devices"]) {
    FERRY_TRY(parse_devices(root["devices"], config.devices));
  }
  if (root["vfio"]) FERRY_TRY(parse_vfio(root["vfio"], config));
  return config;
}

// vfio: {backend: auto|legacy|iommufd, p2p: false|true}: how every assigned device of the VM
// reaches VFIO, and whether their BARs are DMA-mapped for peer-to-peer (docs/vfio.md); --set
// vfio.backend=... and --set vfio.p2p=... override them.
Expected<void> SpecParser::parse_vfio(const YAML::Node& node, VmConfig& config) {
  if (!node.IsMap()) {
    return fail(r_.error(node, "vfio", "must be a mapping, e.g. vfio: {backend: auto}"));
  }
  FERRY_TRY(r_.check_map(node, "vfio", {"backend", "p2p"}));
  if (const YAML::Node backend = node["backend"]) {
    FERRY_ASSIGN(std::string choice,
                 r_.choice(backend, "vfio.backend", {"auto", "legacy", "iommufd"}));
    config.vfio_backend = choice == "legacy"    ? pci::host::VfioBackendChoice::kLegacy
                          : choice == "iommufd" ? pci::host::VfioBackendChoice::kIommufd
                                                : pci::host::VfioBackendChoice::kAuto;
  }
  if (const YAML::Node p2p = node["p2p"]) {
    FERRY_ASSIGN(std::string choice, r_.choice(p2p, "vfio.p2p", {"false", "true"}));
    config.vfio_p2p = choice == "true";
  }
  return {};
}

Expected<void> SpecParser::parse_memory(const YAML::Node& node, VmConfig& config) {
  // "memory: 64M" is short for "memory: {size: 64M}". (A yaml-cpp Node copy is a handle: assigning
  // to one would overwrite the spec, so the size node is held in an optional.)
  std::optional<YAML::Node> size;
  std::string path = "memory";
  if (node.IsMap()) {
    FERRY_TRY(r_.check_map(node, "memory", {"size", "hugepages"}));
    path = "memory.size";
    if (node["size"]) size.emplace(node["size"]);
    if (const YAML::Node huge = node["hugepages"]) {
      FERRY_ASSIGN(std::string choice,
                   r_.choice(huge, "memory.hugepages", {"none", "thp", "2M", "1G"}));
      config.huge_page_size = choice == "2M" ? 2 * kMiB : choice == "1G" ? kGiB : 0;
      config.transparent_huge_pages = choice == "thp";
    }
  } else {
    size.emplace(node);
  }
  if (size) {
    FERRY_ASSIGN(config.memory_size, r_.size(*size, path));
  }
  const YAML::Node& where = size ? *size : node;
  if (config.memory_size < kMinRamSize || config.memory_size > kMaxRamSize) {
    return fail(r_.error(where, path,
                         fmt::format("{} is outside {} to {}", format_size(config.memory_size),
                                     format_size(kMinRamSize), format_size(kMaxRamSize))));
  }
  const uint64_t granule = config.huge_page_size ? config.huge_page_size : kPageSize;
  if (config.memory_size % granule != 0) {
    return fail(r_.error(where, path,
                         fmt::format("{} is not a multiple of the {} page size",
                                     format_size(config.memory_size), format_size(granule))));
  }
  return {};
}

Expected<void> SpecParser::parse_payload(const YAML::Node& node, PayloadConfig& payload) {
  FERRY_TRY(r_.check_map(node, "payload",
                         {"builtin", "file", "format", "mode", "load_address", "entry", "kernel",
                          "initrd", "cmdline"}));
  if (node["builtin"] && node["file"]) {
    return fail(r_.error(node, "payload", "has both builtin and file; keep one"));
  }
  if (node["kernel"]) return parse_linux_payload(node, payload);
  for (const char* key : {"initrd", "cmdline"}) {
    if (node[key]) {
      return fail(r_.error(node[key], fmt::format("payload.{}", key),
                           "is for a Linux kernel; add kernel: <bzImage> or remove this key"));
    }
  }
  if (node["file"]) return parse_file_payload(node, payload);
  if (!node["builtin"]) {
    return fail(
        r_.error(node, "payload", "needs builtin: <name>, file: <path> or kernel: <bzImage>"));
  }
  FERRY_ASSIGN(payload.builtin, r_.string(node["builtin"], "payload.builtin"));
  const BuiltinPayload* builtin = find_builtin_payload(payload.builtin);
  if (builtin == nullptr) {
    return fail(r_.error(node["builtin"], "payload.builtin",
                         fmt::format("no built-in guest named '{}'; built-in guests: {}",
                                     payload.builtin, builtin_names())));
  }
  for (const char* key : {"format", "mode", "load_address", "entry"}) {
    if (node[key]) {
      return fail(r_.error(node[key], fmt::format("payload.{}", key),
                           "a built-in guest brings its own format, mode and addresses; remove "
                           "this key"));
    }
  }
  payload = builtin->config();
  return {};
}

Expected<void> SpecParser::parse_linux_payload(const YAML::Node& node, PayloadConfig& payload) {
  for (const char* key : {"builtin", "file", "format", "mode", "load_address", "entry"}) {
    if (node[key]) {
      return fail(r_.error(node[key], fmt::format("payload.{}", key),
                           "a Linux kernel is a payload of its own and starts at its 64-bit "
                           "entry; keep kernel (with initrd and cmdline) or this key, not both"));
    }
  }
  payload = PayloadConfig{};
  payload.format = PayloadFormat::kLinux;
  payload.mode = BootMode::kLong;
  FERRY_ASSIGN(std::string kernel, r_.string(node["kernel"], "payload.kernel"));
  payload.file = absolute_from(base_dir_, kernel);
  // Read the start now so that `ferry validate` names a missing or unreadable file at its key.
  if (auto head = read_file_prefix(payload.file, 64); !head) {
    return fail(r_.error(node["kernel"], "payload.kernel", head.error().message()));
  }
  if (node["initrd"]) {
    FERRY_ASSIGN(std::string initrd, r_.string(node["initrd"], "payload.initrd"));
    payload.initrd = absolute_from(base_dir_, initrd);
    if (auto head = read_file_prefix(payload.initrd, 64); !head) {
      return fail(r_.error(node["initrd"], "payload.initrd", head.error().message()));
    }
  }
  if (node["cmdline"]) {
    FERRY_ASSIGN(payload.cmdline, r_.string(node["cmdline"], "payload.cmdline"));
  }
  return {};
}

Expected<void> SpecParser::parse_file_payload(const YAML::Node& node, PayloadConfig& payload) {
  FERRY_ASSIGN(std::string file, r_.string(node["file"], "payload.file"));
  payload.file = absolute_from(base_dir_, file);
  // Read the start now so that `ferry validate` catches a missing or unreadable payload.
  auto head = read_file_prefix(payload.file, 64);
  if (!head) return fail(r_.error(node["file"], "payload.file", head.error().message()));

  if (node["format"]) {
    FERRY_ASSIGN(std::string format, r_.choice(node["format"], "payload.format", {"elf", "flat"}));
    payload.format = format == "elf" ? PayloadFormat::kElf : PayloadFormat::kFlat;
  } else if (looks_like_elf(*head)) {
    payload.format = PayloadFormat::kElf;
  } else {
    return fail(r_.error(node["file"], "payload.file",
                         fmt::format("{} is not an ELF file; for a raw image add format: flat, "
                                     "load_address and mode",
                                     payload.file)));
  }

  if (node["mode"]) {
    FERRY_ASSIGN(std::string mode,
                 r_.choice(node["mode"], "payload.mode", {"real", "protected", "long"}));
    payload.mode = *parse_boot_mode(mode);
  } else if (payload.format == PayloadFormat::kFlat) {
    return fail(
        r_.error(node, "payload.mode", "is required for a flat image: real, protected or long"));
  } else {
    payload.mode = BootMode::kLong;
  }

  if (payload.format == PayloadFormat::kElf) {
    for (const char* key : {"load_address", "entry"}) {
      if (node[key]) {
        return fail(r_.error(node[key], fmt::format("payload.{}", key),
                             "an ELF file carries its own addresses; this key is for flat "
                             "images"));
      }
    }
    if (payload.mode == BootMode::kReal) {
      return fail(
          r_.error(node["mode"], "payload.mode", "ELF payloads start in protected or long mode"));
    }
    return {};
  }
  if (!node["load_address"]) {
    return fail(r_.error(node, "payload.load_address",
                         "is required for a flat image (where to put it in guest memory)"));
  }
  FERRY_ASSIGN(payload.load_address, r_.size(node["load_address"], "payload.load_address"));
  if (node["entry"]) {
    FERRY_ASSIGN(payload.entry, r_.size(node["entry"], "payload.entry"));
  }
  const uint64_t entry = payload.entry.value_or(payload.load_address);
  if (payload.mode == BootMode::kReal && entry >= 0x100000) {
    return fail(r_.error(node["entry"] ? node["entry"] : node["load_address"],
                         node["entry"] ? "payload.entry" : "payload.load_address",
                         fmt::format("{:#x} is above 1 MiB, out of reach of real mode", entry)));
  }
  return {};
}

// The loader's checks, made here so that `ferry validate` refuses what `ferry run` would.
Expected<void> SpecParser::check_payload_loads(const YAML::Node& node, const VmConfig& config) {
  std::string linux_key;
  auto prepared = prepare_payload(config.payload, config.memory_size, &linux_key);
  if (prepared) return {};
  const PayloadConfig& p = config.payload;
  if (p.format == PayloadFormat::kLinux) {
    return fail(r_.error(node[linux_key], "payload." + linux_key, prepared.error().message()));
  }
  std::string key = p.builtin.empty() ? "file" : "builtin";
  // A flat image's placement is the fault of the key that placed it, not of the file.
  std::error_code ec;
  const uint64_t size = p.builtin.empty() ? fs::file_size(p.file, ec) : 0;
  if (p.format == PayloadFormat::kFlat && !ec && size > 0 && size <= config.memory_size) {
    const bool entry_outside =
        p.entry && (*p.entry < p.load_address || *p.entry - p.load_address >= size);
    key = entry_outside ? "entry" : "load_address";
  }
  return fail(r_.error(node[key], "payload." + key, prepared.error().message()));
}

Expected<void> SpecParser::parse_serial(const YAML::Node& node, SerialConfig& serial) {
  if (node.IsMap()) {
    FERRY_TRY(r_.check_map(node, "serial", {"file"}));
    if (!node["file"]) return fail(r_.error(node, "serial", "needs file: <path>"));
    FERRY_ASSIGN(std::string path, r_.string(node["file"], "serial.file"));
    serial.mode = SerialMode::kFile;
    serial.path = absolute_from(base_dir_, path);
    // Checked, not created: `ferry validate` leaves no file behind.
    if (auto usable = SerialOutput::check_file(serial.path); !usable) {
      return fail(r_.error(node["file"], "serial.file", usable.error().message()));
    }
    return {};
  }
  FERRY_ASSIGN(std::string mode, r_.choice(node, "serial", {"stdout", "stdio", "off"}));
  serial.mode = mode == "stdout"  ? SerialMode::kStdout
                : mode == "stdio" ? SerialMode::kStdio
                                  : SerialMode::kOff;
  return {};
}

Expected<std::string> SpecParser::parse_host_device(const YAML::Node& node, const std::string& path,
                                                    std::map<std::string, size_t>& taken,
                                                    size_t entry) {
  FERRY_ASSIGN(std::string text, r_.string(node, path));
  auto bdf = pci::host::Bdf::parse(text);
  if (!bdf) {
    return fail(r_.error(node, path,
                         fmt::format("{}; give the host device's PCI address as ferry devices "
                                     "lists it, e.g. vfio: 0000:01:00.0",
                                     bdf.error().message())));
  }
  if (auto [first, fresh] = taken.emplace(bdf->str(), entry); !fresh) {
    return fail(r_.error(node, path,
                         fmt::format("{} is already assigned by devices[{}]; a device goes to "
                                     "one guest slot",
                                     bdf->str(), first->second)));
  }
  return bdf->str();
}

Expected<void> SpecParser::parse_devices(const YAML::Node& node,
                                         std::vector<DeviceConfig>& devices) {
  if (node.IsNull()) return {};
  if (!node.IsSequence()) {
    return fail(r_.error(node, "devices", "must be a list, e.g. devices: [{type: pci-test}]"));
  }
  std::map<uint64_t, size_t> slots;    // slot -> the entry that took it
  std::map<std::string, size_t> bdfs;  // host device -> the entry that assigns it
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node entry = node[i];
    const std::string path = fmt::format("devices[{}]", i);
    FERRY_TRY(r_.check_map(entry, path, {"type", "slot", "vfio", "root_port"}));
    DeviceConfig device{
        .type = DeviceType::kPciTest, .slot = std::nullopt, .host_bdf = {}, .root_port = false};
    if (const YAML::Node vfio = entry["vfio"]) {
      if (entry["type"]) {
        return fail(r_.error(entry["type"], path + ".type",
                             "a vfio entry names a host device, not a type; remove type"));
      }
      FERRY_ASSIGN(device.host_bdf, parse_host_device(vfio, path + ".vfio", bdfs, i));
      device.type = DeviceType::kVfio;
      device.root_port = true;
    } else if (!entry["type"]) {
      return fail(r_.error(entry, path + ".type",
                           "is missing; say which device: type: pci-test, or vfio: <host BDF> "
                           "to assign a host device"));
    } else {
      FERRY_TRY(r_.choice(entry["type"], path + ".type", {"pci-test"}));
    }
    if (const YAML::Node slot_node = entry["slot"]) {
      FERRY_ASSIGN(uint64_t slot, r_.integer(slot_node, path + ".slot", 0, 31));
      if (slot == 0) {
        return fail(r_.error(slot_node, path + ".slot",
                             "slot 0 is the host bridge (00:00.0); use 1 to 31 or leave slot out"));
      }
      if (auto [taken, fresh] = slots.emplace(slot, i); !fresh) {
        return fail(r_.error(slot_node, path + ".slot",
                             fmt::format("slot {} is already taken by devices[{}]; choose another "
                                         "from 1 to 31 or leave slot out",
                                         slot, taken->second)));
      }
      device.slot = static_cast<unsigned>(slot);
    }
    if (const YAML::Node port = entry["root_port"]) {
      FERRY_ASSIGN(std::string on, r_.choice(port, path + ".root_port", {"true", "false"}));
      device.root_port = on == "true";
    }
    devices.push_back(device);
  }
  if (devices.size() > 31) {
    return fail(r_.error(node, "devices",
                         fmt::format("{} devices do not fit the 31 free slots of PCI bus 0 (a "
                                     "root port takes a slot too); remove {}",
                                     devices.size(), devices.size() - 31)));
  }
  return {};
}

}  // namespace

Expected<ConfigOverride> parse_config_override(std::string_view text) {
  const size_t eq = text.find('=');
  const std::string_view key = text.substr(0, eq);
  const bool key_ok = !key.empty() && key.front() != '.' && key.back() != '.' &&
                      key.find("..") == std::string_view::npos &&
                      key.find_first_of(" \t[]") == std::string_view::npos;
  if (eq == std::string_view::npos || !key_ok) {
    return fail(Errc::kInvalidArgument,
                "--set '{}': write key=value with a dotted key, e.g. --set vcpus=2 or --set "
                "memory.size=128M",
                text);
  }
  return ConfigOverride{std::string(key), std::string(text.substr(eq + 1))};
}

Expected<VmConfig> parse_vm_config(std::string_view yaml, const std::string& source,
                                   const std::string& base_dir,
                                   std::span<const ConfigOverride> overrides) {
  FERRY_ASSIGN(YAML::Node root, load_spec_document(yaml, source));
  FERRY_ASSIGN(auto overridden, apply_overrides(root, overrides, source));
  YamlReader reader(source, std::move(overridden));
  std::string default_name = fs::path(source).stem().string();
  if (default_name.empty()) default_name = "vm";
  try {
    return SpecParser(reader, base_dir).parse(root, default_name);
  } catch (const YAML::Exception& e) {  // yaml-cpp throws on some malformed trees
    return fail(Errc::kInvalidArgument, "{}: {}", source, e.what());
  }
}

Expected<VmConfig> load_vm_config(const std::string& path,
                                  std::span<const ConfigOverride> overrides) {
  auto bytes = read_file(path, kMaxSpecBytes);
  if (!bytes) return fail(bytes.error().context("reading the VM spec"));
  const std::string text(bytes->begin(), bytes->end());
  const std::string base_dir = fs::absolute(fs::path(path)).parent_path().string();
  return parse_vm_config(text, path, base_dir, overrides);
}

}  // namespace ferry::vmm

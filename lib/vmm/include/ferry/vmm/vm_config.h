// A validated VM description (docs/config.md). config_loader.h builds it from YAML; everything
// in here has already been checked, so the Machine can trust it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ferry/base/units.h"
#include "ferry/pci/host/vfio_path.h"
#include "ferry/vmm/payload.h"

namespace ferry::vmm {

// kStdio: output to stdout and ferry's stdin to the guest (an interactive console, docs/linux.md).
enum class SerialMode : uint8_t { kStdout, kOff, kFile, kStdio };

struct SerialConfig {
  SerialMode mode = SerialMode::kStdout;
  std::string path;  // kFile: absolute
};

struct PayloadConfig {
  std::string builtin;  // a built-in guest's name, or empty when `file` is set
  std::string file;     // absolute path; the bzImage for kLinux (payload.kernel)
  PayloadFormat format = PayloadFormat::kElf;
  std::string initrd;   // kLinux only: absolute path, or empty for none
  std::string cmdline;  // kLinux only
  BootMode mode = BootMode::kLong;
  uint64_t load_address = 0;      // flat only
  std::optional<uint64_t> entry;  // flat only; defaults to load_address
};

enum class DeviceType : uint8_t { kPciTest, kVfio };

// One entry of `devices:` (docs/config.md): an emulated device or a host device by address.
struct DeviceConfig {
  DeviceType type = DeviceType::kPciTest;
  std::optional<unsigned> slot;  // PCI slot on bus 0, 1-31; the lowest free one when unset
  std::string host_bdf;          // kVfio: the host device, "0000:01:00.0"
  // Alone on a bus below a root port at `slot` (which the guest can reset alone), or at `slot`
  // itself. Default: assigned devices below a port, ferry's own devices on bus 0.
  bool root_port = false;
};

struct VmConfig {
  std::string name;
  unsigned vcpus = 1;
  uint64_t memory_size = 64 * kMiB;
  uint64_t huge_page_size = 0;          // 0 = normal pages (or transparent huge pages, below)
  bool transparent_huge_pages = false;  // hugepages: thp: normal pages the kernel may merge
  PayloadConfig payload;
  SerialConfig serial;
  std::vector<DeviceConfig> devices;
  // vfio.backend: how the vfio devices reach VFIO (the legacy container or iommufd).
  pci::host::VfioBackendChoice vfio_backend = pci::host::VfioBackendChoice::kAuto;
  // vfio.p2p: the assigned devices' BARs DMA-mapped too, for peer-to-peer DMA between them.
  bool vfio_p2p = false;
  // ACPI tables in guest RAM (docs/acpi.md). Off for ferry's test guests, which may load over
  // them; a Linux payload (payload.kernel) always has them. No YAML key of its own.
  bool acpi = false;
};

}  // namespace ferry::vmm

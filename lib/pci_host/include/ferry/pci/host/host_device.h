// One host PCI function as the inventory found it: identity and names, where it sits (driver,
// IOMMU group, NUMA node), its BARs and ROM, config space and decoded capabilities, and how the
// kernel can reset it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ferry/pci/host/bdf.h"
#include "ferry/pci/host/capabilities.h"
#include "ferry/pci/host/config_space.h"

namespace ferry::pci::host {

enum class BarKind { kMemory32, kMemory64, kIo };

/// "mem32", "mem64", "io".
const char* bar_kind_name(BarKind kind);

// An implemented BAR (size > 0). A 64-bit BAR occupies its index and the next.
struct Bar {
  unsigned index = 0;
  BarKind kind = BarKind::kMemory32;
  bool prefetchable = false;
  uint64_t size = 0;
  uint64_t host_address = 0;  // where the host placed it (0 when unassigned)
};

struct Rom {
  uint64_t size = 0;
  uint64_t host_address = 0;
};

struct HostDevice {
  Bdf bdf;
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint32_t class_code = 0;  // base class, subclass, programming interface: 0x010802 = NVMe
  uint8_t revision = 0;
  uint8_t header_type = 0;  // 0 endpoint, 1 PCI bridge, 2 CardBus bridge
  uint16_t subsystem_vendor_id = 0;
  uint16_t subsystem_id = 0;
  // From pci.ids through libpci; empty when the database does not know the ID.
  std::string vendor_name;
  std::string device_name;
  std::string class_name;
  std::string subsystem_name;

  std::optional<std::string> driver;      // the bound driver, if any
  std::optional<unsigned> iommu_group;    // absent without an IOMMU
  std::optional<std::string> iommu_unit;  // "dmar0": the IOMMU that translates for it
  int numa_node = -1;                     // -1 when the platform does not say
  // "vfio0": its VFIO device cdev (/dev/vfio/devices/vfio0), listed under vfio-dev/ in sysfs
  // while it is on vfio-pci on a kernel with CONFIG_VFIO_DEVICE_CDEV (Linux 6.6+).
  std::optional<std::string> vfio_cdev;

  std::vector<Bar> bars;
  std::optional<Rom> rom;
  ConfigSpace config;
  Capabilities caps;
  // sysfs reset_method: "flr", "pm", "bus", "af", "device_specific"... in the kernel's order.
  // Empty when the kernel can reset the device no way at all.
  std::vector<std::string> reset_methods;
  // sysfs boot_vga (VGA-class devices only): true for the display the firmware booted on.
  std::optional<bool> boot_vga;

  /// 0x0108 from 0x010802.
  uint16_t class_id() const { return static_cast<uint16_t>(class_code >> 8); }
  /// The BAR with this index, if implemented.
  const Bar* bar(unsigned index) const;
};

}  // namespace ferry::pci::host

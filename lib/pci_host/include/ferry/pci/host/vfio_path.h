// Which way VFIO would reach a host device: the legacy container (/dev/vfio/vfio and the IOMMU
// group's /dev/vfio/N) or iommufd with the device's own cdev (/dev/iommu and
// /dev/vfio/devices/vfioN, Linux 6.6+). `auto` takes the cdev where the kernel has it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ferry/pci/host/host_device.h"
#include "ferry/pci/host/inventory.h"

namespace ferry::pci::host {

enum class VfioBackendChoice : uint8_t { kAuto, kLegacy, kIommufd };

/// "auto", "legacy", "iommufd".
const char* vfio_backend_choice_name(VfioBackendChoice choice);

struct VfioPath {
  bool iommufd = false;  // else the legacy container
  std::string cdev;      // iommufd: "/dev/vfio/devices/vfio0"
  std::string reason;    // why this path, for people
  // Set when `choice` cannot be had on this host: what is missing and the fix.
  std::optional<std::string> error;
};

/// The path `device` would take under `choice`.
VfioPath choose_vfio_path(const HostDevice& device, const Inventory& inventory,
                          VfioBackendChoice choice);

}  // namespace ferry::pci::host

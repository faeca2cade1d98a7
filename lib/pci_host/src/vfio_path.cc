#include "ferry/pci/host/vfio_path.h"

#include <fmt/format.h>

namespace ferry::pci::host {

const char* vfio_backend_choice_name(VfioBackendChoice choice) {
  switch (choice) {
    case VfioBackendChoice::kAuto:
      return "auto";
    case VfioBackendChoice::kLegacy:
      return "legacy";
    case VfioBackendChoice::kIommufd:
      return "iommufd";
  }
  return "auto";
}

VfioPath choose_vfio_path(const HostDevice& device, const Inventory& inventory,
                          VfioBackendChoice choice) {
  VfioPath path;
  const std::string asked = fmt::format("vfio.backend: {}", vfio_backend_choice_name(choice));
  if (choice == VfioBackendChoice::kLegacy) {
    path.reason = fmt::format("the legacy VFIO container ({})", asked);
    return path;
  }
  std::string missing;
  if (!inventory.iommufd_available()) {
    missing =
        "this kernel has no iommufd (no /dev/iommu: the cdev path needs Linux 6.6 or later "
        "with CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV, or modprobe iommufd)";
  } else if (!device.vfio_cdev) {
    missing = fmt::format(
        "{} has no VFIO cdev (no {}/vfio-dev/vfioN: it is not on vfio-pci, or the kernel is "
        "older than 6.6 or built without CONFIG_VFIO_DEVICE_CDEV)",
        device.bdf.str(), "/sys/bus/pci/devices/" + device.bdf.str());
  }
  if (missing.empty()) {
    path.iommufd = true;
    path.cdev = "/dev/vfio/devices/" + *device.vfio_cdev;
    path.reason =
        fmt::format("iommufd with the VFIO cdev {} (/dev/iommu exists; {})", path.cdev, asked);
    return path;
  }
  if (choice == VfioBackendChoice::kIommufd) {
    path.error = fmt::format(
        "{} asks for iommufd, but {}; use the legacy container: vfio.backend: legacy (or auto) "
        "in the spec, or --set vfio.backend=legacy",
        asked, missing);
    path.reason = "none: " + missing;
    return path;
  }
  path.reason = fmt::format("the legacy VFIO container, because {} ({})", missing, asked);
  return path;
}

}  // namespace ferry::pci::host

// One VFIO device fd: its regions (BARs, ROM, config space), interrupt indexes and reset.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/base/unique_fd.h"
#include "ferry/vfio/vfio_sys.h"

namespace ferry::vfio {

// VFIO's PCI region and interrupt indexes (linux/vfio.h).
constexpr unsigned kRomRegion = 6;
constexpr unsigned kConfigRegion = 7;
enum class IrqIndex : uint32_t { kIntx = 0, kMsi = 1, kMsix = 2 };

struct Area {
  uint64_t offset = 0;  // from the start of the region
  uint64_t size = 0;
};

struct RegionInfo {
  uint64_t size = 0;    // 0: the region does not exist
  uint64_t offset = 0;  // of the region in the device fd
  bool readable = false, writable = false, mappable = false;
  bool msix_mappable = false;    // the kernel lets the MSI-X table be mmapped
  std::vector<Area> mmap_areas;  // the parts that may be mmapped (the whole region unless sparse)
};

// What VFIO_DEVICE_GET_PCI_HOT_RESET_INFO says a bus (or slot) reset of a device would hit.
struct HotResetInfo {
  struct Affected {
    uint32_t id = 0;  // the IOMMU group, or on a cdev fd the device's iommufd id (below)
    uint16_t segment = 0;
    uint8_t bus = 0, devfn = 0;
  };
  // A cdev fd: ids are iommufd device ids (0 owned through a held device's group, 0xffffffff
  // not owned), and all_owned says whether this iommufd owns every device the reset hits.
  bool by_device_id = false;
  bool all_owned = false;
  std::vector<Affected> devices;
};

struct IrqInfo {
  uint32_t count = 0;
  bool eventfd = false, maskable = false, automasked = false, noresize = false;
};

class Device {
 public:
  /// Reads the device's info; `bdf` names it in messages.
  static Expected<Device> open(VfioSys& sys, std::string bdf, UniqueFd fd);

  const std::string& bdf() const { return bdf_; }
  bool can_reset() const { return can_reset_; }
  const RegionInfo& region(unsigned index) const { return regions_.at(index); }
  const IrqInfo& irq(IrqIndex index) const { return irqs_.at(static_cast<unsigned>(index)); }
  int fd() const { return fd_.get(); }
  VfioSys& sys() const { return *sys_; }

  /// Reads or writes bytes of a region; all or an error.
  Expected<void> read(unsigned region, uint64_t offset, std::span<uint8_t> data) const;
  Expected<void> write(unsigned region, uint64_t offset, std::span<const uint8_t> data) const;
  /// VFIO_DEVICE_SET_IRQS with eventfds (-1 leaves a vector without one) from `start`.
  Expected<void> set_irq_eventfds(IrqIndex index, uint32_t start, std::span<const int32_t> fds);
  /// VFIO_DEVICE_SET_IRQS(ACTION_UNMASK) on an eventfd: INTx's resample.
  Expected<void> set_intx_unmask_eventfd(int32_t fd);
  /// Turns every vector of `index` off.
  Expected<void> disable_irqs(IrqIndex index);
  /// VFIO_DEVICE_RESET (function-level or whatever the kernel offers).
  Expected<void> reset();
  /// VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: the IOMMU groups of every device a bus (or slot) reset
  /// of this one would hit, its own among them, each once and in the kernel's order. kUnsupported
  /// when the kernel can reset neither its slot nor its bus (ENODEV).
  Expected<std::vector<unsigned>> hot_reset_groups() const;
  /// The same query, whole: on a cdev fd it reports device ids and their ownership instead.
  Expected<HotResetInfo> hot_reset_info() const;
  /// VFIO_DEVICE_PCI_HOT_RESET: the kernel resets the bus (or slot) only when `group_fds` holds
  /// an open fd of every group hot_reset_groups() names, and every device it hits is this user's.
  /// On a cdev fd `group_fds` is empty: the kernel checks ownership through the iommufd.
  Expected<void> hot_reset(std::span<const int32_t> group_fds);

 private:
  Device(VfioSys& sys, std::string bdf, UniqueFd fd)
      : sys_(&sys), bdf_(std::move(bdf)), fd_(std::move(fd)) {}
  Expected<RegionInfo> query_region(unsigned index) const;

  VfioSys* sys_;
  std::string bdf_;
  UniqueFd fd_;
  bool can_reset_ = false;
  std::vector<RegionInfo> regions_;
  std::vector<IrqInfo> irqs_;
};

}  // namespace ferry::vfio

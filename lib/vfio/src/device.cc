#include "ferry/vfio/device.h"

#include <linux/vfio.h>

#include <algorithm>
#include <cstring>

#include "ferry/vfio/iommufd_abi.h"

namespace ferry::vfio {
namespace {

// Walks the capability chain that follows a vfio_region_info in `buffer`.
void read_region_caps(const std::vector<uint8_t>& buffer, RegionInfo& info) {
  const auto* head = reinterpret_cast<const vfio_region_info*>(buffer.data());
  uint32_t next = head->cap_offset;
  for (int guard = 0; next != 0 && guard < 64; ++guard) {
    if (next + sizeof(vfio_info_cap_header) > buffer.size()) return;
    vfio_info_cap_header cap;
    std::memcpy(&cap, buffer.data() + next, sizeof cap);
    if (cap.id == VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) info.msix_mappable = true;
    if (cap.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP &&
        next + sizeof(vfio_region_info_cap_sparse_mmap) <= buffer.size()) {
      vfio_region_info_cap_sparse_mmap sparse;
      std::memcpy(&sparse, buffer.data() + next, sizeof sparse);
      info.mmap_areas.clear();
      const size_t first = next + sizeof sparse;
      for (uint32_t i = 0; i < sparse.nr_areas; ++i) {
        const size_t at = first + i * sizeof(vfio_region_sparse_mmap_area);
        if (at + sizeof(vfio_region_sparse_mmap_area) > buffer.size()) break;
        vfio_region_sparse_mmap_area area;
        std::memcpy(&area, buffer.data() + at, sizeof area);
        if (area.size != 0) info.mmap_areas.push_back({area.offset, area.size});
      }
    }
    next = cap.next;
  }
}

}  // namespace

Expected<Device> Device::open(VfioSys& sys, std::string bdf, UniqueFd fd) {
  Device device(sys, std::move(bdf), std::move(fd));
  vfio_device_info info{};
  info.argsz = sizeof info;
  if (int r = sys.ioctl(device.fd(), VFIO_DEVICE_GET_INFO, &info); r < 0) {
    return fail_errno(-r, "VFIO_DEVICE_GET_INFO of " + device.bdf_);
  }
  if (!(info.flags & VFIO_DEVICE_FLAGS_PCI) || info.num_regions <= kConfigRegion ||
      info.num_irqs <= VFIO_PCI_MSIX_IRQ_INDEX) {
    return fail(Errc::kUnsupported,
                "{}: VFIO describes it as something other than a PCI device ({} regions, {} "
                "interrupt indexes)",
                device.bdf_, info.num_regions, info.num_irqs);
  }
  device.can_reset_ = (info.flags & VFIO_DEVICE_FLAGS_RESET) != 0;
  for (unsigned i = 0; i <= kConfigRegion; ++i) {
    FERRY_ASSIGN(RegionInfo region, device.query_region(i));
    device.regions_.push_back(std::move(region));
  }
  for (unsigned i = 0; i <= VFIO_PCI_MSIX_IRQ_INDEX; ++i) {
    vfio_irq_info irq{};
    irq.argsz = sizeof irq;
    irq.index = i;
    if (int r = sys.ioctl(device.fd(), VFIO_DEVICE_GET_IRQ_INFO, &irq); r < 0) {
      return fail_errno(-r, fmt::format("VFIO_DEVICE_GET_IRQ_INFO({}) of {}", i, device.bdf_));
    }
    device.irqs_.push_back({.count = irq.count,
                            .eventfd = (irq.flags & VFIO_IRQ_INFO_EVENTFD) != 0,
                            .maskable = (irq.flags & VFIO_IRQ_INFO_MASKABLE) != 0,
                            .automasked = (irq.flags & VFIO_IRQ_INFO_AUTOMASKED) != 0,
                            .noresize = (irq.flags & VFIO_IRQ_INFO_NORESIZE) != 0});
  }
  return device;
}

Expected<RegionInfo> Device::query_region(unsigned index) const {
  std::vector<uint8_t> buffer(sizeof(vfio_region_info));
  auto* info = reinterpret_cast<vfio_region_info*>(buffer.data());
  info->argsz = sizeof(vfio_region_info);
  info->index = index;
  int r = sys_->ioctl(fd(), VFIO_DEVICE_GET_REGION_INFO, info);
  if (r == -EINVAL) return RegionInfo{};  // no such region (a missing ROM)
  if (r < 0)
    return fail_errno(-r, fmt::format("VFIO_DEVICE_GET_REGION_INFO({}) of {}", index, bdf_));
  if ((info->flags & VFIO_REGION_INFO_FLAG_CAPS) && info->argsz > buffer.size()) {
    const uint32_t wanted = info->argsz;
    buffer.assign(wanted, 0);
    info = reinterpret_cast<vfio_region_info*>(buffer.data());
    info->argsz = wanted;
    info->index = index;
    r = sys_->ioctl(fd(), VFIO_DEVICE_GET_REGION_INFO, info);
    if (r < 0)
      return fail_errno(-r, fmt::format("VFIO_DEVICE_GET_REGION_INFO({}) of {}", index, bdf_));
  }
  RegionInfo region{.size = info->size,
                    .offset = info->offset,
                    .readable = (info->flags & VFIO_REGION_INFO_FLAG_READ) != 0,
                    .writable = (info->flags & VFIO_REGION_INFO_FLAG_WRITE) != 0,
                    .mappable = (info->flags & VFIO_REGION_INFO_FLAG_MMAP) != 0,
                    .msix_mappable = false,
                    .mmap_areas = {}};
  if (region.mappable) region.mmap_areas.push_back({0, region.size});
  if (info->flags & VFIO_REGION_INFO_FLAG_CAPS) read_region_caps(buffer, region);
  return region;
}

Expected<void> Device::read(unsigned region, uint64_t offset, std::span<uint8_t> data) const {
  const RegionInfo& r = regions_.at(region);
  if (offset > r.size || data.size() > r.size - offset) {
    return fail(Errc::kInvalidArgument, "{}: read of {} bytes at {:#x} is outside region {}", bdf_,
                data.size(), offset, region);
  }
  ssize_t n = sys_->pread(fd(), data.data(), data.size(), static_cast<off_t>(r.offset + offset));
  if (n != static_cast<ssize_t>(data.size())) {
    return fail_errno(n < 0 ? static_cast<int>(-n) : EIO,
                      fmt::format("{}: reading region {} at {:#x}", bdf_, region, offset));
  }
  return {};
}

Expected<void> Device::write(unsigned region, uint64_t offset,
                             std::span<const uint8_t> data) const {
  const RegionInfo& r = regions_.at(region);
  if (offset > r.size || data.size() > r.size - offset) {
    return fail(Errc::kInvalidArgument, "{}: write of {} bytes at {:#x} is outside region {}", bdf_,
                data.size(), offset, region);
  }
  ssize_t n = sys_->pwrite(fd(), data.data(), data.size(), static_cast<off_t>(r.offset + offset));
  if (n != static_cast<ssize_t>(data.size())) {
    return fail_errno(n < 0 ? static_cast<int>(-n) : EIO,
                      fmt::format("{}: writing region {} at {:#x}", bdf_, region, offset));
  }
  return {};
}

Expected<void> Device::set_irq_eventfds(IrqIndex index, uint32_t start,
                                        std::span<const int32_t> fds) {
  std::vector<uint8_t> buffer(sizeof(vfio_irq_set) + fds.size_bytes());
  auto* set = reinterpret_cast<vfio_irq_set*>(buffer.data());
  set->argsz = static_cast<uint32_t>(buffer.size());
  set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
  set->index = static_cast<uint32_t>(index);
  set->start = start;
  set->count = static_cast<uint32_t>(fds.size());
  std::memcpy(set->data, fds.data(), fds.size_bytes());
  if (int r = sys_->ioctl(fd(), VFIO_DEVICE_SET_IRQS, set); r < 0) {
    return fail_errno(-r, fmt::format("{}: VFIO_DEVICE_SET_IRQS(index {}, vectors {}-{})", bdf_,
                                      set->index, start, start + fds.size() - 1));
  }
  return {};
}

Expected<void> Device::set_intx_unmask_eventfd(int32_t eventfd) {
  std::vector<uint8_t> buffer(sizeof(vfio_irq_set) + sizeof eventfd);
  auto* set = reinterpret_cast<vfio_irq_set*>(buffer.data());
  set->argsz = static_cast<uint32_t>(buffer.size());
  set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK;
  set->index = VFIO_PCI_INTX_IRQ_INDEX;
  set->count = 1;
  std::memcpy(set->data, &eventfd, sizeof eventfd);
  if (int r = sys_->ioctl(fd(), VFIO_DEVICE_SET_IRQS, set); r < 0) {
    return fail_errno(-r, bdf_ + ": VFIO_DEVICE_SET_IRQS(INTx unmask eventfd)");
  }
  return {};
}

Expected<void> Device::disable_irqs(IrqIndex index) {
  vfio_irq_set set{};
  set.argsz = sizeof set;
  set.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
  set.index = static_cast<uint32_t>(index);
  if (int r = sys_->ioctl(fd(), VFIO_DEVICE_SET_IRQS, &set); r < 0) {
    return fail_errno(-r, fmt::format("{}: VFIO_DEVICE_SET_IRQS(index {} off)", bdf_, set.index));
  }
  return {};
}

Expected<void> Device::reset() {
  if (int r = sys_->ioctl(fd(), VFIO_DEVICE_RESET, nullptr); r < 0) {
    return fail_errno(-r, bdf_ + ": VFIO_DEVICE_RESET");
  }
  return {};
}

Expected<HotResetInfo> Device::hot_reset_info() const {
  // Asked once bare for the count (the kernel answers ENOSPC and fills it), then with room for
  // every device. A device that came between the two calls makes the second ENOSPC too.
  uint32_t count = 0;
  std::vector<uint8_t> buffer(sizeof(vfio_pci_hot_reset_info));
  for (int attempt = 0; attempt < 4; ++attempt) {
    buffer.assign(sizeof(vfio_pci_hot_reset_info) + count * sizeof(vfio_pci_dependent_device), 0);
    auto* info = reinterpret_cast<vfio_pci_hot_reset_info*>(buffer.data());
    info->argsz = static_cast<uint32_t>(buffer.size());
    const int r = sys_->ioctl(fd(), VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info);
    if (r == -ENOSPC && info->count > count) {
      count = info->count;
      continue;
    }
    if (r == -ENODEV) {
      return fail(Errc::kUnsupported, "{}: the kernel can reset neither its slot nor its bus",
                  bdf_);
    }
    if (r < 0) return fail_errno(-r, bdf_ + ": VFIO_DEVICE_GET_PCI_HOT_RESET_INFO");
    HotResetInfo result{.by_device_id = (info->flags & abi::kHotResetFlagDevId) != 0,
                        .all_owned = (info->flags & abi::kHotResetFlagDevIdOwned) != 0,
                        .devices = {}};
    for (uint32_t i = 0; i < std::min(info->count, count); ++i) {
      vfio_pci_dependent_device dependent;
      std::memcpy(&dependent, buffer.data() + sizeof *info + i * sizeof dependent,
                  sizeof dependent);
      result.devices.push_back({.id = dependent.group_id,
                                .segment = dependent.segment,
                                .bus = dependent.bus,
                                .devfn = dependent.devfn});
    }
    return result;
  }
  return fail(Errc::kBusy,
              "{}: VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: the devices on its bus kept "
              "changing",
              bdf_);
}

Expected<std::vector<unsigned>> Device::hot_reset_groups() const {
  FERRY_ASSIGN(HotResetInfo info, hot_reset_info());
  std::vector<unsigned> groups;
  for (const HotResetInfo::Affected& affected : info.devices) {
    if (std::find(groups.begin(), groups.end(), affected.id) == groups.end()) {
      groups.push_back(affected.id);
    }
  }
  return groups;
}

Expected<void> Device::hot_reset(std::span<const int32_t> group_fds) {
  std::vector<uint8_t> buffer(sizeof(vfio_pci_hot_reset) + group_fds.size_bytes());
  auto* reset = reinterpret_cast<vfio_pci_hot_reset*>(buffer.data());
  reset->argsz = static_cast<uint32_t>(buffer.size());
  reset->flags = 0;
  reset->count = static_cast<uint32_t>(group_fds.size());
  std::memcpy(buffer.data() + sizeof *reset, group_fds.data(), group_fds.size_bytes());
  if (int r = sys_->ioctl(fd(), VFIO_DEVICE_PCI_HOT_RESET, reset); r < 0) {
    return fail_errno(
        -r, fmt::format("{}: VFIO_DEVICE_PCI_HOT_RESET ({} group fds)", bdf_, group_fds.size()));
  }
  return {};
}

}  // namespace ferry::vfio

#include "ferry/vfio/container.h"

#include <linux/vfio.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace ferry::vfio {

Expected<Container> Container::open(VfioSys& sys) {
  int fd = sys.open("/dev/vfio/vfio");
  if (fd < 0) {
    return fail(Error::from_errno(-fd, "opening /dev/vfio/vfio")
                    .context("VFIO: load the vfio-pci module (modprobe vfio-pci) and run ferry "
                             "as root or with access to /dev/vfio"));
  }
  Container container(sys, UniqueFd(fd));
  int version = sys.ioctl(fd, VFIO_GET_API_VERSION, nullptr);
  if (version != VFIO_API_VERSION) {
    return fail(Errc::kUnsupported, "/dev/vfio/vfio speaks VFIO API version {}, ferry {}", version,
                VFIO_API_VERSION);
  }
  if (sys.ioctl(fd, VFIO_CHECK_EXTENSION, reinterpret_cast<void*>(VFIO_TYPE1v2_IOMMU)) <= 0) {
    return fail(Errc::kUnsupported,
                "/dev/vfio/vfio has no type1v2 IOMMU backend (load vfio_iommu_type1)");
  }
  return container;
}

Container::Container(Container&& other) noexcept
    : sys_(other.sys_),
      fd_(std::move(other.fd_)),
      iommu_set_(other.iommu_set_),
      groups_(other.groups_),
      maps_(std::move(other.maps_)) {
  other.maps_.clear();
}

Container::~Container() { unmap_all(); }

Expected<void> Container::add_group(int group_fd) {
  int container_fd = fd_.get();
  int r = sys_->ioctl(group_fd, VFIO_GROUP_SET_CONTAINER, &container_fd);
  if (r < 0) return fail_errno(-r, "VFIO_GROUP_SET_CONTAINER");
  if (!iommu_set_) {
    r = sys_->ioctl(fd_.get(), VFIO_SET_IOMMU, reinterpret_cast<void*>(VFIO_TYPE1v2_IOMMU));
    if (r < 0) {
      (void)sys_->ioctl(group_fd, VFIO_GROUP_UNSET_CONTAINER, nullptr);
      return fail_errno(-r, "VFIO_SET_IOMMU(type1v2)");
    }
    iommu_set_ = true;
  }
  ++groups_;
  return {};
}

Expected<void> Container::remove_group(int group_fd) {
  int r = sys_->ioctl(group_fd, VFIO_GROUP_UNSET_CONTAINER, nullptr);
  if (r < 0) return fail_errno(-r, "VFIO_GROUP_UNSET_CONTAINER");
  if (groups_ > 0 && --groups_ == 0) {
    iommu_set_ = false;
    maps_.clear();  // gone with the IOMMU
  }
  return {};
}

Expected<void> Container::map_dma(uint64_t iova, uint64_t size, void* host) {
  vfio_iommu_type1_dma_map map{};
  map.argsz = sizeof map;
  map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  map.vaddr = reinterpret_cast<uint64_t>(host);
  map.iova = iova;
  map.size = size;
  int r = sys_->ioctl(fd_.get(), VFIO_IOMMU_MAP_DMA, &map);
  if (r < 0) {
    return fail_errno(-r,
                      fmt::format("VFIO_IOMMU_MAP_DMA at IOVA {:#x}-{:#x}", iova, iova + size - 1));
  }
  maps_.push_back({iova, size});
  return {};
}

Expected<void> Container::unmap_dma(uint64_t iova, uint64_t size) {
  const auto found = std::find_if(maps_.begin(), maps_.end(), [&](const DmaMap& m) {
    return m.iova == iova && m.size == size;
  });
  if (found == maps_.end()) {
    return fail(Errc::kInternal, "VFIO_IOMMU_UNMAP_DMA {:#x}+{:#x}: not mapped", iova, size);
  }
  vfio_iommu_type1_dma_unmap unmap{};
  unmap.argsz = sizeof unmap;
  unmap.iova = iova;
  unmap.size = size;
  if (int r = sys_->ioctl(fd_.get(), VFIO_IOMMU_UNMAP_DMA, &unmap); r < 0) {
    return fail_errno(-r, fmt::format("VFIO_IOMMU_UNMAP_DMA {:#x}+{:#x}", iova, size));
  }
  maps_.erase(found);
  return {};
}

void Container::unmap_all() {
  while (!maps_.empty()) {
    const DmaMap m = maps_.back();
    if (auto unmapped = unmap_dma(m.iova, m.size); !unmapped) {
      spdlog::warn("{}", unmapped.error().message());
      maps_.pop_back();
    }
  }
}

uint64_t Container::mapped_bytes() const {
  uint64_t total = 0;
  for (const DmaMap& m : maps_) total += m.size;
  return total;
}

}  // namespace ferry::vfio

#include "ferry/vfio/ioas.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "ferry/vfio/group.h"
#include "ferry/vfio/iommufd_abi.h"

namespace ferry::vfio {

const char* backend_name(Backend backend) {
  return backend == Backend::kIommufd ? "iommufd" : "legacy";
}

Expected<Ioas> Ioas::open(VfioSys& sys) {
  const int fd = sys.open("/dev/iommu");
  if (fd == -ENOENT || fd == -ENODEV) {
    return fail(Errc::kUnsupported,
                "this kernel has no iommufd (/dev/iommu is missing: it needs Linux 6.6 or later "
                "built with CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV, or modprobe iommufd); "
                "use the legacy VFIO container instead: vfio.backend: legacy (or auto) in the "
                "spec, or --set vfio.backend=legacy");
  }
  if (fd < 0) {
    return fail(Error::from_errno(-fd, "opening /dev/iommu")
                    .context("iommufd: run ferry as root or with access to /dev/iommu"));
  }
  Ioas ioas(sys, UniqueFd(fd));
  abi::IommuIoasAlloc alloc{.size = sizeof alloc, .flags = 0, .out_ioas_id = 0};
  if (int r = sys.ioctl(fd, abi::kIommuIoasAlloc, &alloc); r < 0) {
    return fail_errno(-r, "IOMMU_IOAS_ALLOC on /dev/iommu");
  }
  ioas.id_ = alloc.out_ioas_id;
  ioas.allocated_ = true;
  return ioas;
}

Ioas::Ioas(Ioas&& other) noexcept
    : sys_(other.sys_),
      fd_(std::move(other.fd_)),
      id_(other.id_),
      allocated_(other.allocated_),
      maps_(std::move(other.maps_)) {
  other.allocated_ = false;
  other.maps_.clear();
}

Ioas::~Ioas() {
  unmap_all();
  if (!allocated_ || !fd_) return;
  abi::IommuDestroy destroy{.size = sizeof destroy, .id = id_};
  if (int r = sys_->ioctl(fd_.get(), abi::kIommuDestroy, &destroy); r < 0) {
    spdlog::warn("IOMMU_DESTROY of IOAS {}: {}", id_, std::strerror(-r));
  }
}

namespace {

// The message of a cdev another process holds: a second open of the cdev succeeds, but its bind
// is EINVAL while the device is open elsewhere (vfio_df_open(): one user on the cdev path).
Error busy_cdev(const std::string& bdf, const std::string& path) {
  const std::string holders = holders_of(path);
  return Error(Errc::kBusy,
               fmt::format("{} ({}) is busy: {}; a device serves one VM at a time, so stop that "
                           "VM first",
                           bdf, path,
                           holders.empty() ? "another process holds it (or its IOMMU group)"
                                           : "it is held by " + holders));
}

}  // namespace

Expected<void> Ioas::bind_and_attach(int device_fd, const std::string& bdf,
                                     const std::string& path) const {
  abi::VfioDeviceBindIommufd bind{
      .argsz = sizeof bind, .flags = 0, .iommufd = fd_.get(), .out_devid = 0, .token_uuid_ptr = 0};
  if (int r = sys_->ioctl(device_fd, abi::kVfioDeviceBindIommufd, &bind); r < 0) {
    if (r == -EINVAL && !holders_of(path).empty()) return fail(busy_cdev(bdf, path));
    return fail_errno(-r,
                      fmt::format("{}: VFIO_DEVICE_BIND_IOMMUFD{}", bdf,
                                  r == -EINVAL ? " (is another process using the device?)" : ""));
  }
  abi::VfioDeviceAttachIommufdPt attach{
      .argsz = sizeof attach, .flags = 0, .pt_id = id_, .pasid = 0};
  if (int r = sys_->ioctl(device_fd, abi::kVfioDeviceAttachIommufdPt, &attach); r < 0) {
    return fail_errno(-r, fmt::format("{}: VFIO_DEVICE_ATTACH_IOMMUFD_PT(IOAS {})", bdf, id_));
  }
  return {};
}

Expected<void> Ioas::map_dma(uint64_t iova, uint64_t size, void* host) {
  abi::IommuIoasMap map{
      .size = sizeof map,
      .flags = abi::kIoasMapFixedIova | abi::kIoasMapReadable | abi::kIoasMapWriteable,
      .ioas_id = id_,
      .reserved = 0,
      .user_va = reinterpret_cast<uint64_t>(host),
      .length = size,
      .iova = iova};
  if (int r = sys_->ioctl(fd_.get(), abi::kIommuIoasMap, &map); r < 0) {
    return fail_errno(-r, fmt::format("IOMMU_IOAS_MAP at IOVA {:#x}-{:#x} (IOAS {})", iova,
                                      iova + size - 1, id_));
  }
  maps_.push_back({iova, size});
  return {};
}

Expected<void> Ioas::unmap_dma(uint64_t iova, uint64_t size) {
  const auto found = std::find_if(maps_.begin(), maps_.end(), [&](const DmaMap& m) {
    return m.iova == iova && m.size == size;
  });
  if (found == maps_.end()) {
    return fail(Errc::kInternal, "IOMMU_IOAS_UNMAP {:#x}+{:#x}: not mapped", iova, size);
  }
  abi::IommuIoasUnmap unmap{.size = sizeof unmap, .ioas_id = id_, .iova = iova, .length = size};
  if (int r = sys_->ioctl(fd_.get(), abi::kIommuIoasUnmap, &unmap); r < 0) {
    return fail_errno(-r, fmt::format("IOMMU_IOAS_UNMAP {:#x}+{:#x}", iova, size));
  }
  maps_.erase(found);
  return {};
}

void Ioas::unmap_all() {
  while (!maps_.empty()) {
    const DmaMap m = maps_.back();
    if (auto unmapped = unmap_dma(m.iova, m.size); !unmapped) {
      spdlog::warn("{}", unmapped.error().message());
      maps_.pop_back();
    }
  }
}

uint64_t Ioas::mapped_bytes() const {
  uint64_t total = 0;
  for (const DmaMap& m : maps_) total += m.size;
  return total;
}

Expected<UniqueFd> open_device_cdev(VfioSys& sys, const std::string& bdf, const std::string& path) {
  const int fd = sys.open(path.c_str());
  if (fd == -EBUSY) return fail(busy_cdev(bdf, path));  // its group is open the legacy way
  if (fd < 0) {
    return fail(Error::from_errno(-fd, "opening " + path)
                    .context(fmt::format("{}: its VFIO cdev (is it still bound to vfio-pci? "
                                         "ferry check {} shows how)",
                                         bdf, bdf)));
  }
  return UniqueFd(fd);
}

}  // namespace ferry::vfio

#include "fake_vfio.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <linux/vfio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "fake_eventfd.h"
#include "ferry/vfio/iommufd_abi.h"

namespace ferry::test {
namespace {

constexpr uint64_t kPage = 4096;

uint64_t inode_of(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

}  // namespace

FakeVfio::FakeVfio(FakeVfioOptions options)
    : options_(std::move(options)),
      nvme_([this](std::string what) { say(std::move(what)); },
            [this](std::string violation) { note(std::move(violation)); }) {
  close_watch_ = watch_closes([this](int fd) { closing(fd); });
}

FakeVfio::~FakeVfio() { unwatch_closes(close_watch_); }

void FakeVfio::say(std::string what) const {
  if (options_.journal) options_.journal(std::move(what));
}

void FakeVfio::note(std::string violation) { violations_.push_back(std::move(violation)); }

bool FakeVfio::failing(FakeVfioStep step) {
  if (options_.fail_at != step) return false;
  options_.fail_at = FakeVfioStep::kNone;  // once
  return true;
}

int FakeVfio::new_fd(Kind kind) {
  const int fd = ::memfd_create("fake_vfio", MFD_CLOEXEC);
  if (fd < 0) return -errno;
  files_[fd] = {kind, inode_of(fd)};
  return fd;
}

FakeVfio::File* FakeVfio::file_of(int fd) {
  auto it = files_.find(fd);
  if (it == files_.end() || ::fcntl(fd, F_GETFD) < 0 || inode_of(fd) != it->second.inode) {
    return nullptr;
  }
  return &it->second;
}

int FakeVfio::open(const char* path) {
  std::lock_guard lock(mutex_);
  const std::string p = path;
  if (p == "/dev/vfio/vfio") {
    if (failing(FakeVfioStep::kOpenContainer)) return -options_.fail_errno;
    const int fd = new_fd(Kind::kContainer);
    if (fd >= 0) container_fd_ = fd;
    say("VFIO open container");
    return fd;
  }
  if (p == "/dev/iommu") {
    if (!options_.iommufd) return -ENOENT;
    if (failing(FakeVfioStep::kOpenIommufd)) return -options_.fail_errno;
    const int fd = new_fd(Kind::kIommufd);
    say("IOMMUFD open");
    return fd;
  }
  if (p == options_.cdev) {
    if (!options_.iommufd) return -ENOENT;
    // vfio_device_fops_cdev_open(): not while the group is open the legacy way. Another
    // process holding the device does not stop the open, only the bind (below).
    if (group_fd_ >= 0 || cdev_fd_ >= 0) return -EBUSY;
    if (failing(FakeVfioStep::kOpenCdev)) return -options_.fail_errno;
    const int fd = new_fd(Kind::kDevice);
    if (fd < 0) return fd;
    cdev_fd_ = fd;
    device_fds_.push_back(fd);
    say("VFIO open cdev " + p);
    return fd;
  }
  if (p != fmt::format("/dev/vfio/{}", options_.group)) return -ENOENT;
  // vfio_group_fops_open(): one opener at a time, and not while the device is open by its cdev.
  if (held_elsewhere_ || group_fd_ >= 0 || cdev_fd_ >= 0) return -EBUSY;
  const int fd = new_fd(Kind::kGroup);
  if (fd >= 0) group_fd_ = fd;
  say(fmt::format("VFIO open group {}", options_.group));
  return fd;
}

int FakeVfio::ioctl(int fd, unsigned long request, void* arg) {
  std::lock_guard lock(mutex_);
  File* file = file_of(fd);
  if (file == nullptr) return ::fcntl(fd, F_GETFD) < 0 ? -EBADF : -ENOTTY;
  switch (file->kind) {
    case Kind::kContainer:
      return container_ioctl(request, arg);
    case Kind::kGroup:
      return group_ioctl(fd, request, arg);
    case Kind::kDevice:
      return device_ioctl(fd, request, arg);
    case Kind::kIommufd:
      return iommufd_ioctl(request, arg);
  }
  return -ENOTTY;
}

int FakeVfio::iommufd_ioctl(unsigned long request, void* arg) {
  switch (request) {
    case vfio::abi::kIommuIoasAlloc: {
      auto* alloc = static_cast<vfio::abi::IommuIoasAlloc*>(arg);
      if (alloc->size < sizeof *alloc || alloc->flags != 0) return -EINVAL;
      if (failing(FakeVfioStep::kIoasAlloc)) return -options_.fail_errno;
      alloc->out_ioas_id = next_object_id_++;
      ioas_.insert(alloc->out_ioas_id);
      say(fmt::format("IOMMUFD IOAS_ALLOC {}", alloc->out_ioas_id));
      return 0;
    }
    case vfio::abi::kIommuIoasMap:
      return ioas_map(arg);
    case vfio::abi::kIommuIoasUnmap:
      return ioas_unmap(arg);
    case vfio::abi::kIommuDestroy: {
      const auto* destroy = static_cast<const vfio::abi::IommuDestroy*>(arg);
      if (!ioas_.contains(destroy->id)) return -ENOENT;
      if (attached_ioas_ == destroy->id) return -EBUSY;  // a device still uses it
      ioas_.erase(destroy->id);
      say(fmt::format("IOMMUFD DESTROY {}", destroy->id));
      return 0;
    }
    default:
      return -ENOTTY;
  }
}

// iommufd_ioas_map(): into an existing IOAS, at the fixed IOVA ferry asks for.
int FakeVfio::ioas_map(void* arg) {
  const auto* map = static_cast<const vfio::abi::IommuIoasMap*>(arg);
  if (map->size < sizeof *map || map->reserved != 0) return -EINVAL;
  if (!ioas_.contains(map->ioas_id)) return -ENOENT;
  const uint32_t known =
      vfio::abi::kIoasMapFixedIova | vfio::abi::kIoasMapReadable | vfio::abi::kIoasMapWriteable;
  if ((map->flags & ~known) != 0 || !(map->flags & vfio::abi::kIoasMapFixedIova) ||
      map->length == 0 || map->iova % kPage != 0 || map->length % kPage != 0 ||
      map->user_va % kPage != 0 || map->iova + map->length < map->iova) {
    return -EINVAL;
  }
  if (overlaps_dma(map->iova, map->length)) return -EEXIST;
  // With a device attached the pages are pinned now (pfn_reader_user_pin(): pin_user_pages),
  // and GUP refuses a VM_IO | VM_PFNMAP vma, which is what a VFIO BAR mmap is (mm/gup.c
  // check_vma_flags()): EFAULT.
  if (attached_ioas_ == map->ioas_id && meets_bar_map(map->user_va, map->length)) return -EFAULT;
  if (failing(FakeVfioStep::kIoasMap)) return -options_.fail_errno;
  dma_[map->iova] = {map->iova, map->length, map->user_va};
  say(fmt::format("IOMMUFD IOAS_MAP {:#x}+{:#x}", map->iova, map->length));
  return 0;
}

bool FakeVfio::unmap_whole_maps(uint64_t begin, uint64_t end, uint64_t& unmapped) {
  for (const auto& [iova, m] : dma_) {
    const bool meets = iova < end && begin < iova + m.size;
    if (meets && (iova < begin || iova + m.size > end)) return false;  // would split it
  }
  for (auto it = dma_.begin(); it != dma_.end();) {
    const bool inside = it->first >= begin && it->first + it->second.size <= end;
    if (inside) unmapped += it->second.size;
    it = inside ? dma_.erase(it) : std::next(it);
  }
  return true;
}

// iopt_unmap_iova(): whole mappings only; a range that meets none is ENOENT.
int FakeVfio::ioas_unmap(void* arg) {
  auto* unmap = static_cast<vfio::abi::IommuIoasUnmap*>(arg);
  if (unmap->size < sizeof *unmap) return -EINVAL;
  if (!ioas_.contains(unmap->ioas_id)) return -ENOENT;
  const uint64_t begin = unmap->iova, end = unmap->iova + unmap->length;
  uint64_t unmapped = 0;
  if (!unmap_whole_maps(begin, end, unmapped)) return -EINVAL;
  if (unmapped == 0) return -ENOENT;
  unmap->length = unmapped;
  say(fmt::format("IOMMUFD IOAS_UNMAP {:#x}+{:#x}", begin, unmapped));
  return 0;
}

// The cdev-only ioctls (vfio/device_cdev.c).
int FakeVfio::cdev_ioctl(unsigned long request, void* arg) {
  switch (request) {
    case vfio::abi::kVfioDeviceBindIommufd: {
      auto* bind = static_cast<vfio::abi::VfioDeviceBindIommufd*>(arg);
      if (bind->argsz < sizeof *bind || bind->flags != 0 || cdev_bound_) return -EINVAL;
      if (held_elsewhere_) return -EINVAL;  // vfio_df_open(): one user on the cdev path
      File* iommufd = file_of(bind->iommufd);
      if (iommufd == nullptr || iommufd->kind != Kind::kIommufd) return -EBADF;
      if (failing(FakeVfioStep::kBind)) return -options_.fail_errno;
      cdev_bound_ = true;
      bind->out_devid = next_object_id_++;
      say("VFIO BIND_IOMMUFD");
      return 0;
    }
    case vfio::abi::kVfioDeviceAttachIommufdPt: {
      auto* attach = static_cast<vfio::abi::VfioDeviceAttachIommufdPt*>(arg);
      if (attach->argsz < sizeof *attach || attach->flags != 0 || !cdev_bound_) return -EINVAL;
      if (!ioas_.contains(attach->pt_id)) return -ENOENT;
      if (failing(FakeVfioStep::kAttach)) return -options_.fail_errno;
      attached_ioas_ = attach->pt_id;
      say(fmt::format("VFIO ATTACH_IOMMUFD_PT {}", attach->pt_id));
      return 0;
    }
    default:
      return -ENOTTY;
  }
}

int FakeVfio::container_ioctl(unsigned long request, void* arg) {
  switch (request) {
    case VFIO_GET_API_VERSION:
      return VFIO_API_VERSION;
    case VFIO_CHECK_EXTENSION: {
      const auto extension = reinterpret_cast<uintptr_t>(arg);
      return extension == VFIO_TYPE1_IOMMU || extension == VFIO_TYPE1v2_IOMMU ? 1 : 0;
    }
    case VFIO_SET_IOMMU: {
      // vfio_ioctl_set_iommu(): a group first, the type once.
      if (!group_in_container_ || iommu_set_) return -EINVAL;
      const auto type = reinterpret_cast<uintptr_t>(arg);
      if (type != VFIO_TYPE1_IOMMU && type != VFIO_TYPE1v2_IOMMU) return -ENODEV;
      if (failing(FakeVfioStep::kSetIommu)) return -options_.fail_errno;
      iommu_set_ = true;
      say("VFIO SET_IOMMU type1v2");
      return 0;
    }
    case VFIO_IOMMU_MAP_DMA:
      return map_dma(arg);
    case VFIO_IOMMU_UNMAP_DMA:
      return unmap_dma(arg);
    default:
      return iommu_set_ ? -ENOTTY : -EINVAL;  // no driver yet: vfio_fops_unl_ioctl()
  }
}

// vfio_dma_do_map() of type1.
int FakeVfio::map_dma(void* arg) {
  if (!iommu_set_) return -EINVAL;
  auto* map = static_cast<vfio_iommu_type1_dma_map*>(arg);
  if (map->argsz < sizeof *map) return -EINVAL;
  const uint32_t rw = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  if ((map->flags & ~rw) != 0 || map->size == 0 || map->iova % kPage != 0 ||
      map->size % kPage != 0 || map->vaddr % kPage != 0 || map->iova + map->size < map->iova) {
    return -EINVAL;
  }
  if (overlaps_dma(map->iova, map->size)) return -EEXIST;
  // Outside the IOMMU's IOVA ranges (vfio_iommu_iova_dma_valid()). A BAR mmap (VM_PFNMAP) is
  // fine: type1 follows its PFNs (vaddr_get_pfns()).
  if (options_.iova_limit != 0 && map->iova + map->size > options_.iova_limit) return -EINVAL;
  if (failing(FakeVfioStep::kMapDma)) return -options_.fail_errno;
  dma_[map->iova] = {map->iova, map->size, map->vaddr};
  say(fmt::format("VFIO MAP_DMA {:#x}+{:#x}", map->iova, map->size));
  return 0;
}

bool FakeVfio::meets_bar_map(uint64_t vaddr, uint64_t size) const {
  for (const auto& [data, length] : bar_maps_) {
    const auto at = reinterpret_cast<uint64_t>(data);
    if (vaddr < at + length && at < vaddr + size) return true;
  }
  return false;
}

bool FakeVfio::overlaps_dma(uint64_t iova, uint64_t size) const {
  for (const auto& [at, m] : dma_) {
    if (iova < at + m.size && at < iova + size) return true;
  }
  return false;
}

// vfio_dma_do_unmap() of type1 v2: whole mappings only; a range that meets none unmaps nothing.
int FakeVfio::unmap_dma(void* arg) {
  if (!iommu_set_) return -EINVAL;
  auto* unmap = static_cast<vfio_iommu_type1_dma_unmap*>(arg);
  if (unmap->argsz < sizeof *unmap || unmap->flags != 0 || unmap->iova % kPage != 0 ||
      unmap->size % kPage != 0) {
    return -EINVAL;
  }
  const uint64_t begin = unmap->iova, end = unmap->iova + unmap->size;
  uint64_t unmapped = 0;
  if (!unmap_whole_maps(begin, end, unmapped)) return -EINVAL;
  unmap->size = unmapped;
  say(fmt::format("VFIO UNMAP_DMA {:#x}+{:#x}", begin, unmapped));
  return 0;
}

int FakeVfio::group_ioctl(int fd, unsigned long request, void* arg) {
  switch (request) {
    case VFIO_GROUP_GET_STATUS: {
      auto* status = static_cast<vfio_group_status*>(arg);
      if (status->argsz < sizeof *status) return -EINVAL;
      status->flags = (options_.viable ? VFIO_GROUP_FLAGS_VIABLE : 0) |
                      (group_in_container_ ? VFIO_GROUP_FLAGS_CONTAINER_SET : 0);
      return 0;
    }
    case VFIO_GROUP_SET_CONTAINER: {
      const int container = *static_cast<int*>(arg);
      if (group_in_container_) return -EINVAL;
      File* target = file_of(container);
      if (target == nullptr || target->kind != Kind::kContainer) return -EINVAL;
      if (!options_.viable) return -EPERM;
      if (failing(FakeVfioStep::kSetContainer)) return -options_.fail_errno;
      group_in_container_ = true;
      say(fmt::format("VFIO SET_CONTAINER group {}", options_.group));
      return 0;
    }
    case VFIO_GROUP_UNSET_CONTAINER:
      // vfio_group_ioctl_unset_container(): not while a device fd is open. The last group out
      // takes the IOMMU and every DMA mapping with it.
      if (!group_in_container_) return -EINVAL;
      if (!device_fds_.empty()) return -EBUSY;
      group_in_container_ = false;
      iommu_set_ = false;
      dma_.clear();
      say(fmt::format("VFIO UNSET_CONTAINER group {}", options_.group));
      return 0;
    case VFIO_GROUP_GET_DEVICE_FD: {
      // vfio_group_ioctl_get_device_fd(): the container must have its IOMMU.
      if (!group_in_container_ || !iommu_set_) return -EINVAL;
      const std::string bdf = static_cast<const char*>(arg);
      if (bdf != options_.bdf) return -ENODEV;
      if (failing(FakeVfioStep::kGetDeviceFd)) return -options_.fail_errno;
      const int device = new_fd(Kind::kDevice);
      if (device < 0) return device;
      device_fds_.push_back(device);
      say(fmt::format("VFIO GET_DEVICE_FD {}", bdf));
      (void)fd;
      return device;
    }
    default:
      return -ENOTTY;
  }
}

int FakeVfio::device_ioctl(int fd, unsigned long request, void* arg) {
  if (request == vfio::abi::kVfioDeviceBindIommufd ||
      request == vfio::abi::kVfioDeviceAttachIommufdPt) {
    return fd == cdev_fd_ ? cdev_ioctl(request, arg) : -EINVAL;
  }
  if (fd == cdev_fd_ && !cdev_bound_) return -EINVAL;  // no access before the bind
  switch (request) {
    case VFIO_DEVICE_GET_INFO: {
      auto* info = static_cast<vfio_device_info*>(arg);
      const int r = nvme_.get_info(*info);
      if (r == 0 && !options_.flr) info->flags &= ~VFIO_DEVICE_FLAGS_RESET;
      return r;
    }
    case VFIO_DEVICE_GET_REGION_INFO:
      return nvme_.region_info(*static_cast<vfio_region_info*>(arg),
                               failing(FakeVfioStep::kRegionInfo));
    case VFIO_DEVICE_GET_IRQ_INFO:
      return nvme_.irq_info(*static_cast<vfio_irq_info*>(arg));
    case VFIO_DEVICE_SET_IRQS: {
      const auto* set = static_cast<const vfio_irq_set*>(arg);
      return nvme_.set_irqs(*set, reinterpret_cast<const uint8_t*>(set) + sizeof *set,
                            options_.on_trigger);
    }
    case VFIO_DEVICE_RESET:
      if (!options_.flr) {  // vfio_pci_ioctl_reset(): !reset_works
        say("VFIO DEVICE_RESET -> EINVAL");
        return -EINVAL;
      }
      return nvme_.reset();
    case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: {
      const int r = hot_reset_info(arg);
      if (fd == cdev_fd_) {
        // Device ids instead of groups: this device's own, and the other one not owned.
        auto* info = static_cast<vfio_pci_hot_reset_info*>(arg);
        info->flags = vfio::abi::kHotResetFlagDevId |
                      (options_.bus_shared_with_group ? 0 : vfio::abi::kHotResetFlagDevIdOwned);
        if (r == 0) {
          auto* devices = reinterpret_cast<vfio_pci_dependent_device*>(
              reinterpret_cast<uint8_t*>(info) + sizeof *info);
          for (uint32_t i = 0; i < info->count; ++i) {
            devices[i].group_id = i == 0 ? 1 : vfio::abi::kDevIdNotOwned;
          }
        }
      }
      return r;
    }
    case VFIO_DEVICE_PCI_HOT_RESET: {
      if (fd == cdev_fd_) {
        // vfio_pci_ioctl_pci_hot_reset() on a cdev: no group fds; ownership by the iommufd.
        const auto* reset = static_cast<const vfio_pci_hot_reset*>(arg);
        if (reset->argsz < sizeof *reset || reset->flags != 0 || reset->count != 0) {
          return -EINVAL;
        }
        if (options_.bus_shared_with_group) {
          say("VFIO PCI_HOT_RESET -> EPERM");
          return -EPERM;
        }
        nvme_.bus_reset();
        say("VFIO PCI_HOT_RESET by device id");
        return 0;
      }
      const int r = hot_reset(arg);
      if (r < 0) say(fmt::format("VFIO PCI_HOT_RESET -> {}", r == -EBADF ? "EBADF" : "EINVAL"));
      return r;
    }
    default:
      return -ENOTTY;
  }
}

// vfio_pci_ioctl_get_pci_hot_reset_info(): the device itself at 01:00.0, the other at 01:00.1.
int FakeVfio::hot_reset_info(void* arg) const {
  auto* info = static_cast<vfio_pci_hot_reset_info*>(arg);
  if (info->argsz < sizeof *info) return -EINVAL;
  std::vector<vfio_pci_dependent_device> devices{
      {.group_id = options_.group, .segment = 0, .bus = 1, .devfn = 0}};
  if (options_.bus_shared_with_group) {
    devices.push_back(
        {.group_id = *options_.bus_shared_with_group, .segment = 0, .bus = 1, .devfn = 1});
  }
  info->flags = 0;
  info->count = static_cast<uint32_t>(devices.size());
  if (info->argsz < sizeof *info + devices.size() * sizeof devices[0]) return -ENOSPC;
  std::memcpy(reinterpret_cast<uint8_t*>(info) + sizeof *info, devices.data(),
              devices.size() * sizeof devices[0]);
  return 0;
}

// vfio_pci_ioctl_pci_hot_reset() and vfio_pci_dev_set_hot_reset(): 1 to as many group fds as
// there are devices, each a VFIO group's, and every affected device in one of them.
int FakeVfio::hot_reset(void* arg) {
  const auto* reset = static_cast<const vfio_pci_hot_reset*>(arg);
  const uint32_t devices = options_.bus_shared_with_group ? 2 : 1;
  if (reset->argsz < sizeof *reset || reset->flags != 0) return -EINVAL;
  if (reset->count == 0 || reset->count > devices) return -EINVAL;
  std::vector<int32_t> fds(reset->count);
  std::memcpy(fds.data(), reinterpret_cast<const uint8_t*>(reset) + sizeof *reset,
              fds.size() * sizeof(int32_t));
  std::set<unsigned> covered;
  for (int32_t fd : fds) {
    if (::fcntl(fd, F_GETFD) < 0) return -EBADF;
    File* file = file_of(fd);
    if (file == nullptr || file->kind != Kind::kGroup) return -EINVAL;
    covered.insert(options_.group);  // the one group this fake opens
  }
  std::vector<unsigned> affected{options_.group};
  if (options_.bus_shared_with_group) affected.push_back(*options_.bus_shared_with_group);
  for (unsigned group : affected) {
    if (!covered.contains(group)) return -EINVAL;  // a device outside the groups given
  }
  nvme_.bus_reset();
  say(fmt::format("VFIO PCI_HOT_RESET groups [{}]", fmt::join(covered, ", ")));
  return 0;
}

ssize_t FakeVfio::pread(int fd, void* data, size_t size, off_t offset) {
  std::lock_guard lock(mutex_);
  File* file = file_of(fd);
  if (file == nullptr || file->kind != Kind::kDevice) return -EBADF;
  return nvme_.read(static_cast<uint64_t>(offset), data, size);
}

ssize_t FakeVfio::pwrite(int fd, const void* data, size_t size, off_t offset) {
  std::lock_guard lock(mutex_);
  File* file = file_of(fd);
  if (file == nullptr || file->kind != Kind::kDevice) return -EBADF;
  return nvme_.write(static_cast<uint64_t>(offset), data, size);
}

Expected<Mapping> FakeVfio::map(int fd, size_t size, off_t offset) {
  std::lock_guard lock(mutex_);
  File* file = file_of(fd);
  if (file == nullptr || file->kind != Kind::kDevice) return fail_errno(EBADF, "mmap");
  if (failing(FakeVfioStep::kMmap)) return fail_errno(options_.fail_errno, "mmap");
  auto mapping = nvme_.map(size, static_cast<uint64_t>(offset));
  if (mapping) bar_maps_.emplace_back(mapping->data(), mapping->size());
  return mapping;
}

bool FakeVfio::fire(unsigned vector) {
  int fd = -1;
  {
    std::lock_guard lock(mutex_);
    fd = nvme_.trigger_of(vector);
    say(fmt::format("device fires v{}{}", vector, fd < 0 ? " (no trigger: lost)" : ""));
  }
  if (fd < 0) return false;
  if (options_.on_fire) {
    options_.on_fire(fd);
  } else {
    const uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
  }
  return true;
}

void FakeVfio::hold_group_elsewhere(bool held) {
  std::lock_guard lock(mutex_);
  held_elsewhere_ = held;
}

// The kernel's release of each file, seen just before the close.
void FakeVfio::closing(int fd) {
  std::lock_guard lock(mutex_);
  auto it = files_.find(fd);
  if (it == files_.end() || inode_of(fd) != it->second.inode) return;
  const Kind kind = it->second.kind;
  files_.erase(it);
  switch (kind) {
    case Kind::kDevice:
      std::erase(device_fds_, fd);
      if (fd == cdev_fd_) {  // vfio_device_fops_release(): unbound, detached
        cdev_fd_ = -1;
        cdev_bound_ = false;
        attached_ioas_.reset();
      }
      say("close VFIO device");
      return;
    case Kind::kIommufd:
      // iommufd_fops_release(): every object of it goes; a bound device keeps the context.
      ioas_.clear();
      say("close IOMMUFD");
      return;
    case Kind::kGroup:
      if (!device_fds_.empty()) {
        note(fmt::format("group {} closed while {} fd(s) of its device are open", options_.group,
                         device_fds_.size()));
      }
      // vfio_group_fops_release(): the group leaves its container; the last group out takes
      // the IOMMU and every DMA mapping with it.
      group_fd_ = -1;
      group_in_container_ = false;
      iommu_set_ = false;
      dma_.clear();
      say(fmt::format("close VFIO group {}", options_.group));
      return;
    case Kind::kContainer:
      container_fd_ = -1;
      say("close VFIO container");
      return;
  }
}

size_t FakeVfio::open_fds() const {
  std::lock_guard lock(mutex_);
  return files_.size();
}

std::vector<FakeVfio::DmaMap> FakeVfio::dma_maps() const {
  std::lock_guard lock(mutex_);
  std::vector<DmaMap> maps;
  for (const auto& [iova, m] : dma_) maps.push_back(m);
  return maps;
}

std::vector<std::pair<const void*, size_t>> FakeVfio::bar_maps() const {
  std::lock_guard lock(mutex_);
  return bar_maps_;
}

bool FakeVfio::device_open() const {
  std::lock_guard lock(mutex_);
  return !device_fds_.empty();
}

std::vector<std::string> FakeVfio::rule_violations() const {
  std::lock_guard lock(mutex_);
  return violations_;
}

}  // namespace ferry::test

// A behavioral model of the kernel's legacy VFIO files behind lib/vfio's VfioSys seam:
// /dev/vfio/vfio (the container), /dev/vfio/N (one IOMMU group) and the device fd of one device
// in it, a QEMU NVMe (fake_vfio_nvme.h). It enforces the rules of drivers/vfio (container.c,
// group.c, vfio_iommu_type1.c) with their errno values:
//
//   container: API version, type1v2; SET_IOMMU only once a group is in it; MAP_DMA only after
//              SET_IOMMU, page aligned, never overlapping a mapping (EEXIST), inside the IOVA
//              ranges (EINVAL; `iova_limit`); a BAR mmap maps like RAM; UNMAP_DMA of whole
//              mappings only (EINVAL when it would split one).
//   group:     one opener at a time (EBUSY); GET_STATUS viable or not; SET_CONTAINER once, and
//              only when viable; GET_DEVICE_FD only with the IOMMU set, by BDF (ENODEV else).
//   iommufd:   /dev/iommu (ENOENT when `iommufd` is off); IOAS_ALLOC; IOAS_MAP only into an IOAS
//              that exists (ENOENT), at a fixed IOVA, page aligned, never overlapping (EEXIST);
//              with a device attached, of a BAR mmap EFAULT (it pins: pin_user_pages refuses
//              a VM_PFNMAP vma);
//              IOAS_UNMAP of whole mappings only; DESTROY of an IOAS a device is attached to is
//              EBUSY (iommufd/main.c, io_pagetable.c).
//   cdev:      /dev/vfio/devices/vfioN opens once, and not while the group is open (EBUSY); held
//              by another process it opens but its bind is EINVAL (vfio_df_open()); every
//              ioctl but BIND_IOMMUFD is EINVAL until bound (vfio_device_fops_unl_ioctl());
//              BIND once, with an iommufd fd; ATTACH_IOMMUFD_PT only bound, to an existing IOAS
//              (ENOENT); closing the fd unbinds and detaches it.
//   device:    GET_PCI_HOT_RESET_INFO lists the device and optionally another device of another
//              group on its bus (ENOSPC with the count when the buffer is short); PCI_HOT_RESET
//              only with an fd of every group listed (EINVAL else, as
//              vfio_pci_dev_set_hot_reset()). On a cdev fd it reports device ids (DEV_ID, and
//              DEV_ID_OWNED when no other device shares the bus) and PCI_HOT_RESET takes no fds
//              (EINVAL with any), EPERM when a device on the bus is not owned.
//
// fds are real memfds, so lib/vfio closes them with close(); the fake watches closes (the
// test binary's wrapped close(), fake_eventfd.h) and records what the kernel would refuse or
// what leaves state behind as rule violations: a group closed while a device fd of it is open.
//
// Every step can be made to fail once (`fail_at`), for the error paths. Everything the fake
// does that a VMM orders (DMA maps, SET_IRQS, reset, closes) goes to `journal`.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fake_vfio_nvme.h"
#include "ferry/vfio/vfio_sys.h"

namespace ferry::test {

enum class FakeVfioStep : uint8_t {
  kNone,
  kOpenContainer,
  kSetContainer,
  kSetIommu,
  kMapDma,
  kGetDeviceFd,
  kRegionInfo,
  kMmap,
  kOpenIommufd,
  kIoasAlloc,
  kOpenCdev,
  kBind,
  kAttach,
  kIoasMap,
};

struct FakeVfioOptions {
  unsigned group = 12;
  std::string bdf = "0000:01:00.0";
  // The device's VFIO cdev, and whether the kernel has iommufd (/dev/iommu).
  std::string cdev = "/dev/vfio/devices/vfio0";
  bool iommufd = true;
  bool viable = true;
  // false: a device without a function-level reset. GET_INFO lacks VFIO_DEVICE_FLAGS_RESET,
  // VFIO_DEVICE_RESET is EINVAL (vfio_pci_ioctl_reset() without reset_works), and the bus hot
  // reset is the only one.
  bool flr = true;
  // The IOMMU group of another device on the bus, which a bus hot reset would hit too.
  std::optional<unsigned> bus_shared_with_group;
  // Where type1's IOVA ranges end (0: nowhere): a MAP_DMA reaching past it is EINVAL.
  uint64_t iova_limit = 0;
  FakeVfioStep fail_at = FakeVfioStep::kNone;
  int fail_errno = EIO;
  // Where the fake tells what happened, in order ("VFIO MAP_DMA ...", "close VFIO group 12").
  std::function<void(std::string)> journal;
  // VFIO made an eventfd a vector's trigger (a passthrough-aware hypervisor fake wants to know).
  std::function<void(int)> on_trigger;
  // The device signals a trigger; by default eventfd_signal(), a write of 1.
  std::function<void(int)> on_fire;
};

/// Options with the journal set (the rest as given later).
inline FakeVfioOptions journaling(std::function<void(std::string)> journal) {
  FakeVfioOptions options;
  options.journal = std::move(journal);
  return options;
}

class FakeVfio final : public vfio::VfioSys {
 public:
  explicit FakeVfio(FakeVfioOptions options = {});
  ~FakeVfio() override;

  int open(const char* path) override;
  int ioctl(int fd, unsigned long request, void* arg) override;
  ssize_t pread(int fd, void* data, size_t size, off_t offset) override;
  ssize_t pwrite(int fd, const void* data, size_t size, off_t offset) override;
  Expected<Mapping> map(int fd, size_t size, off_t offset) override;

  /// The hardware raises MSI-X `vector`: its trigger is signalled. False when VFIO has no
  /// eventfd for it (or bus mastering is off), as the message then goes nowhere.
  bool fire(unsigned vector);
  /// Another process holds the group open: open() answers EBUSY.
  void hold_group_elsewhere(bool held);

  // --- what the kernel holds ---------------------------------------------------------------
  /// fds the fake handed out that are still open.
  size_t open_fds() const;
  struct DmaMap {
    uint64_t iova, size, vaddr;
  };
  std::vector<DmaMap> dma_maps() const;
  /// The addresses of BAR mmaps handed out (whether or not still mapped).
  std::vector<std::pair<const void*, size_t>> bar_maps() const;
  bool device_open() const;
  std::vector<std::string> rule_violations() const;
  /// The device, for looks at its state (read under no lock: use between calls).
  const FakeVfioNvme& nvme() const { return nvme_; }

 private:
  enum class Kind : uint8_t { kContainer, kGroup, kDevice, kIommufd };
  struct File {
    Kind kind;
    uint64_t inode;
  };
  int new_fd(Kind kind);
  bool failing(FakeVfioStep step);
  File* file_of(int fd);
  int container_ioctl(unsigned long request, void* arg);
  int group_ioctl(int fd, unsigned long request, void* arg);
  int device_ioctl(int fd, unsigned long request, void* arg);
  int iommufd_ioctl(unsigned long request, void* arg);
  int cdev_ioctl(unsigned long request, void* arg);
  int ioas_map(void* arg);
  int ioas_unmap(void* arg);
  int hot_reset_info(void* arg) const;
  int hot_reset(void* arg);
  int map_dma(void* arg);
  // Whether [iova, iova + size) meets a mapping already made (type1 and iommufd refuse: EEXIST).
  bool overlaps_dma(uint64_t iova, uint64_t size) const;
  // Whether [vaddr, vaddr + size) meets a BAR mmap the fake handed out.
  bool meets_bar_map(uint64_t vaddr, uint64_t size) const;
  // Both IOMMUs unmap whole mappings only: false (EINVAL) if [begin, end) would split one,
  // else every mapping inside goes and `unmapped` grows by their sizes.
  bool unmap_whole_maps(uint64_t begin, uint64_t end, uint64_t& unmapped);
  int unmap_dma(void* arg);
  void closing(int fd);  // a close() watcher: takes only mutex_, closes nothing
  void note(std::string violation);
  void say(std::string what) const;

  FakeVfioOptions options_;
  mutable std::mutex mutex_;  // a leaf: never held across a close()
  std::map<int, File> files_;
  FakeVfioNvme nvme_;
  int container_fd_ = -1;
  int group_fd_ = -1;  // the one opener's
  bool held_elsewhere_ = false;
  bool group_in_container_ = false;
  bool iommu_set_ = false;
  std::vector<int> device_fds_;
  int cdev_fd_ = -1;  // the device opened through its cdev
  bool cdev_bound_ = false;
  std::optional<uint32_t> attached_ioas_;
  std::set<uint32_t> ioas_;
  uint32_t next_object_id_ = 1;
  std::map<uint64_t, DmaMap> dma_;  // by iova
  std::vector<std::pair<const void*, size_t>> bar_maps_;
  std::vector<std::string> violations_;
  int close_watch_ = 0;
};

}  // namespace ferry::test

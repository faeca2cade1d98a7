// An iommufd (/dev/iommu) with one IO address space (IOAS): the DMA space of the cdev path. A
// device opened through its VFIO cdev (/dev/vfio/devices/vfioN) is bound to the iommufd and
// attached to the IOAS; guest RAM is mapped into the IOAS at fixed IOVAs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/base/unique_fd.h"
#include "ferry/vfio/dma_space.h"
#include "ferry/vfio/vfio_sys.h"

namespace ferry::vfio {

class Ioas final : public DmaSpace {
 public:
  /// Opens /dev/iommu and allocates the IOAS. A kernel without iommufd is kUnsupported,
  /// naming the fix.
  static Expected<Ioas> open(VfioSys& sys);
  /// Unmaps whatever is still mapped, destroys the IOAS, then closes.
  ~Ioas() override;
  Ioas(Ioas&& other) noexcept;
  Ioas& operator=(Ioas&&) = delete;

  int fd() const { return fd_.get(); }
  uint32_t id() const { return id_; }
  /// VFIO_DEVICE_BIND_IOMMUFD then VFIO_DEVICE_ATTACH_IOMMUFD_PT of the device cdev `path` open
  /// at `device_fd` (`bdf` names it in messages). Closing the device fd undoes both. A device
  /// another process has bound is kBusy, naming that process when /proc shows it.
  Expected<void> bind_and_attach(int device_fd, const std::string& bdf,
                                 const std::string& path) const;

  Expected<void> map_dma(uint64_t iova, uint64_t size, void* host) override;
  Expected<void> unmap_dma(uint64_t iova, uint64_t size) override;
  void unmap_all() override;
  uint64_t mapped_bytes() const override;

 private:
  struct DmaMap {
    uint64_t iova;
    uint64_t size;
  };
  Ioas(VfioSys& sys, UniqueFd fd) : sys_(&sys), fd_(std::move(fd)) {}

  VfioSys* sys_;
  UniqueFd fd_;
  uint32_t id_ = 0;
  bool allocated_ = false;
  std::vector<DmaMap> maps_;
};

/// Opens the VFIO cdev of `bdf` at `path` ("/dev/vfio/devices/vfio0"): the device fd of the
/// iommufd path, usable once bound (Ioas::bind_and_attach).
Expected<UniqueFd> open_device_cdev(VfioSys& sys, const std::string& bdf, const std::string& path);

}  // namespace ferry::vfio

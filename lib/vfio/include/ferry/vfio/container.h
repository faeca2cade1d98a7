// A VFIO container (/dev/vfio/vfio) with the type1v2 IOMMU: the one DMA address space every
// assigned device of a VM shares. Guest RAM is mapped into it with IOVA = guest physical
// address, so a device programmed by the guest DMAs where the guest meant.
#pragma once

#include <cstdint>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/base/unique_fd.h"
#include "ferry/vfio/dma_space.h"
#include "ferry/vfio/vfio_sys.h"

namespace ferry::vfio {

class Container final : public DmaSpace {
 public:
  /// Opens the container and checks the API version and type1v2 support.
  static Expected<Container> open(VfioSys& sys);
  /// Unmaps whatever is still mapped, then closes.
  ~Container() override;
  Container(Container&& other) noexcept;
  Container& operator=(Container&&) = delete;

  /// Puts the group open at `group_fd` in this container; the first one sets the IOMMU type.
  /// All or nothing: a group whose IOMMU type could not be set leaves the container again.
  Expected<void> add_group(int group_fd);
  /// Takes a group with no device fd open out of the container. The last one out takes the
  /// IOMMU with it (the kernel drops its mappings; unmap_all() them first), so the next group
  /// in sets it again.
  Expected<void> remove_group(int group_fd);
  /// Maps [iova, iova+size) to host memory at `host` for device reads and writes (pins it).
  Expected<void> map_dma(uint64_t iova, uint64_t size, void* host) override;
  Expected<void> unmap_dma(uint64_t iova, uint64_t size) override;
  /// Unmaps everything map_dma mapped, newest first.
  void unmap_all() override;
  /// Bytes mapped now.
  uint64_t mapped_bytes() const override;

 private:
  struct DmaMap {
    uint64_t iova;
    uint64_t size;
  };
  Container(VfioSys& sys, UniqueFd fd) : sys_(&sys), fd_(std::move(fd)) {}

  VfioSys* sys_;
  UniqueFd fd_;
  bool iommu_set_ = false;
  unsigned groups_ = 0;
  std::vector<DmaMap> maps_;
};

}  // namespace ferry::vfio

// The one IOMMU address space all assigned devices of a VM share, whichever way the kernel
// offers it: a legacy VFIO container (container.h) or an iommufd IOAS (ioas.h). Guest RAM goes
// in with IOVA = guest physical address; with p2p, the assigned BARs the guest decodes too.
#pragma once

#include <cstdint>

#include "ferry/base/error.h"

namespace ferry::vfio {

class DmaSpace {
 public:
  virtual ~DmaSpace() = default;
  /// Maps [iova, iova+size) to host memory at `host` for device reads and writes (pins it).
  virtual Expected<void> map_dma(uint64_t iova, uint64_t size, void* host) = 0;
  /// Unmaps the one mapping map_dma made at exactly [iova, iova+size); on failure it stays
  /// listed, so unmap_all() tries again.
  virtual Expected<void> unmap_dma(uint64_t iova, uint64_t size) = 0;
  /// Unmaps everything map_dma mapped, newest first.
  virtual void unmap_all() = 0;
  /// Bytes mapped now.
  virtual uint64_t mapped_bytes() const = 0;
};

// How lib/vfio reaches the devices and the IOMMU: kLegacy, groups in a container
// (/dev/vfio/vfio, /dev/vfio/N); kIommufd, device cdevs bound to /dev/iommu (Linux 6.6+).
enum class Backend : uint8_t { kLegacy, kIommufd };

/// "legacy", "iommufd".
const char* backend_name(Backend backend);

}  // namespace ferry::vfio

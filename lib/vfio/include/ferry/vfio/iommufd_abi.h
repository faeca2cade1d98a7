// The iommufd and VFIO cdev ABI that Debian 12's linux-libc-dev (6.1) lacks: written from the
// kernel's include/uapi/linux/iommufd.h (IOAS alloc, map, unmap, destroy; Linux 6.2+) and the
// cdev part of include/uapi/linux/vfio.h (bind, attach; Linux 6.6+), whose layouts and numbers
// are the kernel's stable ABI. Only what lib/vfio uses.
#pragma once

#include <linux/ioctl.h>

#include <cstdint>

namespace ferry::vfio::abi {

// ---- /dev/iommu (iommufd.h): type ';', commands from 0x80 -----------------------------------
constexpr unsigned kIommufdType = ';';
constexpr unsigned long kIommuDestroy = _IO(kIommufdType, 0x80);
constexpr unsigned long kIommuIoasAlloc = _IO(kIommufdType, 0x81);
constexpr unsigned long kIommuIoasMap = _IO(kIommufdType, 0x85);
constexpr unsigned long kIommuIoasUnmap = _IO(kIommufdType, 0x86);

struct IommuDestroy {
  uint32_t size;
  uint32_t id;
};

struct IommuIoasAlloc {
  uint32_t size;
  uint32_t flags;  // 0
  uint32_t out_ioas_id;
};

constexpr uint32_t kIoasMapFixedIova = 1u << 0;
constexpr uint32_t kIoasMapWriteable = 1u << 1;
constexpr uint32_t kIoasMapReadable = 1u << 2;

struct IommuIoasMap {
  uint32_t size;
  uint32_t flags;
  uint32_t ioas_id;
  uint32_t reserved;  // 0
  alignas(8) uint64_t user_va;
  alignas(8) uint64_t length;
  alignas(8) uint64_t iova;
};

struct IommuIoasUnmap {
  uint32_t size;
  uint32_t ioas_id;
  alignas(8) uint64_t iova;
  alignas(8) uint64_t length;  // in: bytes to unmap; out: bytes unmapped
};

// ---- the VFIO device cdev (/dev/vfio/devices/vfioN; vfio.h): type ';', base 100 -------------
constexpr unsigned long kVfioDeviceBindIommufd = _IO(';', 100 + 18);
constexpr unsigned long kVfioDeviceAttachIommufdPt = _IO(';', 100 + 19);
constexpr unsigned long kVfioDeviceDetachIommufdPt = _IO(';', 100 + 20);

struct VfioDeviceBindIommufd {
  uint32_t argsz;
  uint32_t flags;  // 0: no VF token
  int32_t iommufd;
  uint32_t out_devid;
  alignas(8) uint64_t token_uuid_ptr;
};

struct VfioDeviceAttachIommufdPt {
  uint32_t argsz;
  uint32_t flags;  // 0: the whole device, no PASID
  uint32_t pt_id;  // in: the IOAS; out: the hardware page table the kernel attached
  uint32_t pasid;
};

struct VfioDeviceDetachIommufdPt {
  uint32_t argsz;
  uint32_t flags;
  uint32_t pasid;
};

// VFIO_DEVICE_GET_PCI_HOT_RESET_INFO on a cdev fd reports device ids instead of group numbers
// (vfio_pci_hot_reset_info.flags), and whether this iommufd owns every device the reset hits.
constexpr uint32_t kHotResetFlagDevId = 1u << 0;
constexpr uint32_t kHotResetFlagDevIdOwned = 1u << 1;
constexpr uint32_t kDevIdNotOwned = 0xffffffffu;  // VFIO_PCI_DEVID_NOT_OWNED (-1)

static_assert(sizeof(IommuIoasMap) == 40 && sizeof(IommuIoasUnmap) == 24);
static_assert(sizeof(VfioDeviceBindIommufd) == 24 && sizeof(VfioDeviceAttachIommufdPt) == 16);

}  // namespace ferry::vfio::abi

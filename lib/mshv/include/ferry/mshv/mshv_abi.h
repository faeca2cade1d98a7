// The upstream /dev/mshv ioctl ABI (Linux 6.15+, include/uapi/linux/mshv.h), declared by the
// project itself: Debian's kernel headers have no linux/mshv.h. Facts are from
// /work/shared/docs/mshv-abi.md and the upstream UAPI; every size, offset and request number is
// held to them by static_assert, so a drifting layout fails the build instead of answering EINVAL
// (or worse, ENOTTY) at run time.
//
// An older pre-upstream ABI exists with other request numbers (RUN_VP was 0x07); ferry speaks
// only this one.
#pragma once

#include <linux/ioctl.h>

#include <cstddef>
#include <cstdint>

namespace ferry::mshv {

constexpr unsigned kMshvIoctlMagic = 0xB8;
constexpr const char* kMshvDevicePath = "/dev/mshv";
constexpr uint64_t kHvPageSize = 0x1000;  // MSHV_HV_PAGE_SIZE
constexpr unsigned kMshvMaxVps = 256;     // MSHV_MAX_VPS
constexpr unsigned kMshvMaxGuestIrqs = 4096;

// --- /dev/mshv --------------------------------------------------------------------------------

// pt_flags bits.
constexpr uint64_t kPtLapic = 1ull << 0;
constexpr uint64_t kPtX2apic = 1ull << 1;
constexpr uint64_t kPtGpaSuperPages = 1ull << 2;
constexpr uint64_t kPtCpuAndXsaveFeatures = 1ull << 3;  // selects the 64-byte v2 argument
constexpr uint64_t kPtIsolationNone = 0;

struct MshvCreatePartition {
  uint64_t pt_flags;
  uint64_t pt_isolation;
};

// Used when pt_flags has kPtCpuAndXsaveFeatures; the request number still encodes 16 bytes.
struct MshvCreatePartitionV2 {
  uint64_t pt_flags;
  uint64_t pt_isolation;
  uint16_t pt_num_cpu_fbanks;  // must be kCpuFeatureBanks
  uint8_t pt_rsvd[6];
  uint64_t pt_cpu_fbanks[2];  // processor features to DISABLE, bank 0 and 1
  uint64_t pt_rsvd1[2];
  uint64_t pt_disabled_xsave;  // xsave features to disable
};
constexpr uint16_t kCpuFeatureBanks = 2;

// --- partition fd -----------------------------------------------------------------------------

struct MshvCreateVp {
  uint32_t vp_index;
};

// mshv_user_mem_region flags bits. Readable is implied.
constexpr uint8_t kMemWritable = 1u << 0;
constexpr uint8_t kMemExecutable = 1u << 1;
constexpr uint8_t kMemUnmap = 1u << 2;
constexpr uint8_t kMemFlagsMask = 0x7;

struct MshvUserMemRegion {
  uint64_t size;  // bytes, a multiple of kHvPageSize
  uint64_t guest_pfn;
  uint64_t userspace_addr;  // page aligned
  uint8_t flags;
  uint8_t rsvd[7];
};

constexpr uint32_t kIrqfdDeassign = 1u << 0;
constexpr uint32_t kIrqfdResample = 1u << 1;
constexpr uint32_t kIrqfdFlagsMask = 0x3;

struct MshvUserIrqfd {
  int32_t fd;
  int32_t resamplefd;
  uint32_t gsi;
  uint32_t flags;
};

constexpr uint32_t kIoeventfdDatamatch = 1u << 0;
constexpr uint32_t kIoeventfdPio = 1u << 1;  // the kernel answers EOPNOTSUPP
constexpr uint32_t kIoeventfdDeassign = 1u << 2;
constexpr uint32_t kIoeventfdFlagsMask = 0x7;

struct MshvUserIoeventfd {
  uint64_t datamatch;
  uint64_t addr;
  uint32_t len;  // 0 (any), 1, 2, 4 or 8
  int32_t fd;
  uint32_t flags;
  uint8_t rsvd[4];
};

struct MshvUserIrqEntry {
  uint32_t gsi;
  uint32_t address_lo;
  uint32_t address_hi;  // must be 0
  uint32_t data;
};

// Followed by `nr` MshvUserIrqEntry in the same buffer.
struct MshvUserIrqTable {
  uint32_t nr;
  uint32_t rsvd;
};

struct MshvGpapAccessBitmap {
  uint8_t access_type;
  uint8_t access_op;
  uint8_t rsvd[6];
  uint64_t page_count;
  uint64_t gpap_base;
  uint64_t bitmap_ptr;
};

// A hypercall passed through by the kernel. The input must begin with a u64 partition id, which
// the kernel overwrites in its copy.
struct MshvRootHvcall {
  uint16_t code;
  uint16_t reps;    // in: rep count; out: reps completed
  uint16_t in_sz;   // 8 to kHvPageSize
  uint16_t out_sz;  // 1 to kHvPageSize when out_ptr is set, else 0
  uint16_t status;  // in: 0; out: HV_STATUS_*
  uint8_t rsvd[6];
  uint64_t in_ptr;
  uint64_t out_ptr;
};
constexpr uint32_t kHvcallMaxInput = 4096;

// --- VP fd --------------------------------------------------------------------------------------

constexpr size_t kRunVpBufferSize = 256;
struct MshvRunVp {
  uint8_t msg_buf[kRunVpBufferSize];
};

// mmap offsets of a VP fd, in pages.
constexpr unsigned kVpMmapRegisters = 0;
constexpr unsigned kVpMmapInterceptMessage = 1;
constexpr unsigned kVpMmapGhcb = 2;

enum MshvVpStateType : uint8_t {
  kVpStateLapic = 0,
  kVpStateXsave = 1,
  kVpStateSimp = 2,
  kVpStateSiefp = 3,
  kVpStateSyntheticTimers = 4,
  kVpStateCount = 5,
};

struct MshvGetSetVpState {
  uint8_t type;
  uint8_t rsvd[3];
  uint32_t buf_sz;   // in: a nonzero multiple of 4 KiB; out: the size the state needs
  uint64_t buf_ptr;  // 4 KiB aligned
};

// --- the VFIO bridge (not upstream: Microsoft's "PCI passthru on Hyper-V" series) --------------

constexpr uint32_t kMshvDevTypeVfio = 0;
struct MshvCreateDevice {
  uint32_t type;
  uint32_t fd;  // out
  uint32_t flags;
};
struct MshvDeviceAttr {
  uint32_t flags;
  uint32_t group;  // kMshvDevVfioFile
  uint64_t attr;   // kMshvDevVfioFileAdd / kMshvDevVfioFileDel
  uint64_t addr;   // pointer to the VFIO group fd
};
constexpr uint32_t kMshvDevVfioFile = 1;
constexpr uint64_t kMshvDevVfioFileAdd = 1;
constexpr uint64_t kMshvDevVfioFileDel = 2;

// --- request numbers ----------------------------------------------------------------------------

constexpr unsigned long kMshvCreatePartition =
    _IOW(kMshvIoctlMagic, 0x00, MshvCreatePartition);  // on /dev/mshv
constexpr unsigned long kMshvInitializePartition = _IO(kMshvIoctlMagic, 0x00);
constexpr unsigned long kMshvCreateVp = _IOW(kMshvIoctlMagic, 0x01, MshvCreateVp);
constexpr unsigned long kMshvSetGuestMemory = _IOW(kMshvIoctlMagic, 0x02, MshvUserMemRegion);
constexpr unsigned long kMshvIrqfd = _IOW(kMshvIoctlMagic, 0x03, MshvUserIrqfd);
constexpr unsigned long kMshvIoeventfd = _IOW(kMshvIoctlMagic, 0x04, MshvUserIoeventfd);
constexpr unsigned long kMshvSetMsiRouting = _IOW(kMshvIoctlMagic, 0x05, MshvUserIrqTable);
constexpr unsigned long kMshvGetGpapAccessBitmap =
    _IOWR(kMshvIoctlMagic, 0x06, MshvGpapAccessBitmap);
constexpr unsigned long kMshvRootHvcall = _IOWR(kMshvIoctlMagic, 0x07, MshvRootHvcall);
constexpr unsigned long kMshvRunVp = _IOR(kMshvIoctlMagic, 0x00, MshvRunVp);
constexpr unsigned long kMshvGetVpState = _IOWR(kMshvIoctlMagic, 0x01, MshvGetSetVpState);
constexpr unsigned long kMshvSetVpState = _IOWR(kMshvIoctlMagic, 0x02, MshvGetSetVpState);
constexpr unsigned long kMshvCreateDevice = _IOWR(kMshvIoctlMagic, 0x08, MshvCreateDevice);
constexpr unsigned long kMshvSetDeviceAttr = _IOW(kMshvIoctlMagic, 0x00, MshvDeviceAttr);

// The name of a request, for error messages ("MSHV_IRQFD"); "an unknown MSHV ioctl" otherwise.
const char* mshv_ioctl_name(unsigned long request);

// --- the layout, checked ------------------------------------------------------------------------

static_assert(sizeof(MshvCreatePartition) == 16);
static_assert(sizeof(MshvCreatePartitionV2) == 64);
static_assert(offsetof(MshvCreatePartitionV2, pt_num_cpu_fbanks) == 16);
static_assert(offsetof(MshvCreatePartitionV2, pt_cpu_fbanks) == 24);
static_assert(offsetof(MshvCreatePartitionV2, pt_rsvd1) == 40);
static_assert(offsetof(MshvCreatePartitionV2, pt_disabled_xsave) == 56);
static_assert(sizeof(MshvCreateVp) == 4);
static_assert(sizeof(MshvUserMemRegion) == 32);
static_assert(offsetof(MshvUserMemRegion, guest_pfn) == 8);
static_assert(offsetof(MshvUserMemRegion, userspace_addr) == 16);
static_assert(offsetof(MshvUserMemRegion, flags) == 24);
static_assert(sizeof(MshvUserIrqfd) == 16);
static_assert(offsetof(MshvUserIrqfd, resamplefd) == 4);
static_assert(offsetof(MshvUserIrqfd, gsi) == 8);
static_assert(offsetof(MshvUserIrqfd, flags) == 12);
static_assert(sizeof(MshvUserIoeventfd) == 32);
static_assert(offsetof(MshvUserIoeventfd, addr) == 8);
static_assert(offsetof(MshvUserIoeventfd, len) == 16);
static_assert(offsetof(MshvUserIoeventfd, fd) == 20);
static_assert(offsetof(MshvUserIoeventfd, flags) == 24);
static_assert(offsetof(MshvUserIoeventfd, rsvd) == 28);
static_assert(sizeof(MshvUserIrqEntry) == 16);
static_assert(offsetof(MshvUserIrqEntry, address_hi) == 8);
static_assert(offsetof(MshvUserIrqEntry, data) == 12);
static_assert(sizeof(MshvUserIrqTable) == 8);
static_assert(sizeof(MshvGpapAccessBitmap) == 32);
static_assert(sizeof(MshvRootHvcall) == 32);
static_assert(offsetof(MshvRootHvcall, status) == 8);
static_assert(offsetof(MshvRootHvcall, rsvd) == 10);
static_assert(offsetof(MshvRootHvcall, in_ptr) == 16);
static_assert(offsetof(MshvRootHvcall, out_ptr) == 24);
static_assert(sizeof(MshvRunVp) == 256);
static_assert(sizeof(MshvGetSetVpState) == 16);
static_assert(offsetof(MshvGetSetVpState, buf_sz) == 4);
static_assert(offsetof(MshvGetSetVpState, buf_ptr) == 8);
static_assert(sizeof(MshvCreateDevice) == 12);
static_assert(sizeof(MshvDeviceAttr) == 24);

static_assert(kMshvCreatePartition == 0x4010B800);
static_assert(kMshvInitializePartition == 0x0000B800);
static_assert(kMshvCreateVp == 0x4004B801);
static_assert(kMshvSetGuestMemory == 0x4020B802);
static_assert(kMshvIrqfd == 0x4010B803);
static_assert(kMshvIoeventfd == 0x4020B804);
static_assert(kMshvSetMsiRouting == 0x4008B805);
static_assert(kMshvGetGpapAccessBitmap == 0xC020B806);
static_assert(kMshvRootHvcall == 0xC020B807);
static_assert(kMshvRunVp == 0x8100B800);
static_assert(kMshvGetVpState == 0xC010B801);
static_assert(kMshvSetVpState == 0xC010B802);
static_assert(kMshvCreateDevice == 0xC00CB808);
static_assert(kMshvSetDeviceAttr == 0x4018B800);

}  // namespace ferry::mshv

// ferry's /dev/mshv ioctl ABI (lib/mshv/include/ferry/mshv/mshv_abi.h) against values written
// out here, by hand, from the kernel's UAPI header include/uapi/linux/mshv.h (Linux 6.15+), so a
// wrong constant in mshv_abi.h cannot agree with itself (the fake in test/mshv uses the same
// header). The request numbers are the asm-generic encoding the UAPI's _IOW/_IOR/_IOWR/_IO give
// on x86_64: direction << 30 | size << 16 | 0xB8 << 8 | number (write 1, read 2).
#include <gtest/gtest.h>

#include <cstddef>

#include "ferry/mshv/mshv_abi.h"

namespace ferry::mshv {
namespace {

TEST(MshvUapiAbi, RequestNumbersAreTheUpstreamOnes) {
  EXPECT_EQ(kMshvIoctlMagic, 0xB8u);                  // MSHV_IOCTL
  EXPECT_EQ(kMshvCreatePartition, 0x4010B800ul);      // _IOW(0x00), 16 bytes, on /dev/mshv
  EXPECT_EQ(kMshvInitializePartition, 0x0000B800ul);  // _IO(0x00), partition fd
  EXPECT_EQ(kMshvCreateVp, 0x4004B801ul);             // _IOW(0x01), 4 bytes
  EXPECT_EQ(kMshvSetGuestMemory, 0x4020B802ul);       // _IOW(0x02), 32 bytes
  EXPECT_EQ(kMshvIrqfd, 0x4010B803ul);                // _IOW(0x03), 16 bytes
  EXPECT_EQ(kMshvIoeventfd, 0x4020B804ul);            // _IOW(0x04), 32 bytes
  EXPECT_EQ(kMshvSetMsiRouting, 0x4008B805ul);        // _IOW(0x05), 8 bytes
  EXPECT_EQ(kMshvGetGpapAccessBitmap, 0xC020B806ul);  // _IOWR(0x06), 32 bytes
  EXPECT_EQ(kMshvRootHvcall, 0xC020B807ul);           // _IOWR(0x07), 32 bytes
  EXPECT_EQ(kMshvRunVp, 0x8100B800ul);                // _IOR(0x00), 256 bytes, VP fd
  EXPECT_EQ(kMshvGetVpState, 0xC010B801ul);           // _IOWR(0x01), 16 bytes
  EXPECT_EQ(kMshvSetVpState, 0xC010B802ul);           // _IOWR(0x02), 16 bytes
}

TEST(MshvUapiAbi, StructureSizesAndOffsetsAreTheUpstreamOnes) {
  EXPECT_EQ(sizeof(MshvCreatePartition), 16u);  // struct mshv_create_partition
  EXPECT_EQ(sizeof(MshvCreateVp), 4u);          // struct mshv_create_vp
  EXPECT_EQ(sizeof(MshvUserMemRegion), 32u);    // struct mshv_user_mem_region
  EXPECT_EQ(offsetof(MshvUserMemRegion, guest_pfn), 8u);
  EXPECT_EQ(offsetof(MshvUserMemRegion, userspace_addr), 16u);
  EXPECT_EQ(offsetof(MshvUserMemRegion, flags), 24u);
  EXPECT_EQ(sizeof(MshvUserIrqfd), 16u);  // struct mshv_user_irqfd
  EXPECT_EQ(offsetof(MshvUserIrqfd, resamplefd), 4u);
  EXPECT_EQ(offsetof(MshvUserIrqfd, gsi), 8u);
  EXPECT_EQ(offsetof(MshvUserIrqfd, flags), 12u);
  EXPECT_EQ(sizeof(MshvUserIoeventfd), 32u);  // struct mshv_user_ioeventfd
  EXPECT_EQ(offsetof(MshvUserIoeventfd, addr), 8u);
  EXPECT_EQ(offsetof(MshvUserIoeventfd, len), 16u);
  EXPECT_EQ(offsetof(MshvUserIoeventfd, fd), 20u);
  EXPECT_EQ(offsetof(MshvUserIoeventfd, flags), 24u);
  EXPECT_EQ(sizeof(MshvUserIrqEntry), 16u);  // struct mshv_user_irq_entry
  EXPECT_EQ(offsetof(MshvUserIrqEntry, address_lo), 4u);
  EXPECT_EQ(offsetof(MshvUserIrqEntry, address_hi), 8u);
  EXPECT_EQ(offsetof(MshvUserIrqEntry, data), 12u);
  EXPECT_EQ(sizeof(MshvUserIrqTable), 8u);       // struct mshv_user_irq_table, entries follow
  EXPECT_EQ(sizeof(MshvGpapAccessBitmap), 32u);  // struct mshv_gpap_access_bitmap
  EXPECT_EQ(offsetof(MshvGpapAccessBitmap, page_count), 8u);
  EXPECT_EQ(offsetof(MshvGpapAccessBitmap, bitmap_ptr), 24u);
  EXPECT_EQ(sizeof(MshvRootHvcall), 32u);  // struct mshv_root_hvcall
  EXPECT_EQ(offsetof(MshvRootHvcall, reps), 2u);
  EXPECT_EQ(offsetof(MshvRootHvcall, in_sz), 4u);
  EXPECT_EQ(offsetof(MshvRootHvcall, out_sz), 6u);
  EXPECT_EQ(offsetof(MshvRootHvcall, status), 8u);
  EXPECT_EQ(offsetof(MshvRootHvcall, in_ptr), 16u);
  EXPECT_EQ(offsetof(MshvRootHvcall, out_ptr), 24u);
  EXPECT_EQ(sizeof(MshvRunVp), 256u);         // struct mshv_run_vp, MSHV_RUN_VP_BUF_SZ
  EXPECT_EQ(sizeof(MshvGetSetVpState), 16u);  // struct mshv_get_set_vp_state
  EXPECT_EQ(offsetof(MshvGetSetVpState, buf_sz), 4u);
  EXPECT_EQ(offsetof(MshvGetSetVpState, buf_ptr), 8u);
}

TEST(MshvUapiAbi, FlagBitsAndEnumeratorsAreTheUpstreamOnes) {
  EXPECT_EQ(kHvPageSize, 0x1000u);  // MSHV_HV_PAGE_SIZE
  // MSHV_PT_BIT_LAPIC, _X2APIC, _GPA_SUPER_PAGES; MSHV_PT_ISOLATION_NONE.
  EXPECT_EQ(kPtLapic, 1ull << 0);
  EXPECT_EQ(kPtX2apic, 1ull << 1);
  EXPECT_EQ(kPtGpaSuperPages, 1ull << 2);
  EXPECT_EQ(kPtIsolationNone, 0u);
  // MSHV_SET_MEM_BIT_WRITABLE, _EXECUTABLE, _UNMAP.
  EXPECT_EQ(kMemWritable, 1u << 0);
  EXPECT_EQ(kMemExecutable, 1u << 1);
  EXPECT_EQ(kMemUnmap, 1u << 2);
  // MSHV_IRQFD_BIT_DEASSIGN, _RESAMPLE.
  EXPECT_EQ(kIrqfdDeassign, 1u << 0);
  EXPECT_EQ(kIrqfdResample, 1u << 1);
  // MSHV_IOEVENTFD_BIT_DATAMATCH, _PIO, _DEASSIGN.
  EXPECT_EQ(kIoeventfdDatamatch, 1u << 0);
  EXPECT_EQ(kIoeventfdPio, 1u << 1);
  EXPECT_EQ(kIoeventfdDeassign, 1u << 2);
  // MSHV_VP_MMAP_OFFSET_REGISTERS, _INTERCEPT_MESSAGE, _GHCB.
  EXPECT_EQ(kVpMmapRegisters, 0u);
  EXPECT_EQ(kVpMmapInterceptMessage, 1u);
  EXPECT_EQ(kVpMmapGhcb, 2u);
  // MSHV_VP_STATE_LAPIC, _XSAVE, _SIMP, _SIEFP, _SYNTHETIC_TIMERS.
  EXPECT_EQ(kVpStateLapic, 0u);
  EXPECT_EQ(kVpStateXsave, 1u);
  EXPECT_EQ(kVpStateSimp, 2u);
  EXPECT_EQ(kVpStateSiefp, 3u);
  EXPECT_EQ(kVpStateSyntheticTimers, 4u);
}

}  // namespace
}  // namespace ferry::mshv

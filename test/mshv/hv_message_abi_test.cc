// ferry's view of the messages MSHV_RUN_VP returns (lib/mshv/include/ferry/mshv/hv_abi.h) against
// values written out here, by hand, from the hypervisor's published definitions as Linux 6.15+
// carries them: include/hyperv/hvgdk_mini.h (enum hv_message_type, struct hv_message_header,
// struct hv_x64_segment_register, struct hv_x64_table_register) and include/hyperv/hvhdk.h
// (struct hv_x64_intercept_message_header, union hv_x64_vp_execution_state, the x64 memory, I/O
// port, CPUID and MSR intercept messages). The fake in test/mshv builds its messages from the
// same header, so only values from outside can catch a wrong one.
#include <gtest/gtest.h>

#include <cstddef>

#include "ferry/mshv/hv_abi.h"

namespace ferry::mshv {
namespace {

TEST(HvMessageAbi, MessageTypesAreTheHypervisorsOnes) {  // enum hv_message_type, HVMSG_*
  EXPECT_EQ(kHvMessageNone, 0x00000000u);
  EXPECT_EQ(kHvMessageUnmappedGpa, 0x80000000u);
  EXPECT_EQ(kHvMessageGpaIntercept, 0x80000001u);
  EXPECT_EQ(kHvMessageTimerExpired, 0x80000010u);
  EXPECT_EQ(kHvMessageInvalidVpRegisterValue, 0x80000020u);
  EXPECT_EQ(kHvMessageUnrecoverableException, 0x80000021u);
  EXPECT_EQ(kHvMessageUnsupportedFeature, 0x80000022u);
  EXPECT_EQ(kHvMessageX64IoPortIntercept, 0x80010000u);
  EXPECT_EQ(kHvMessageX64MsrIntercept, 0x80010001u);
  EXPECT_EQ(kHvMessageX64CpuidIntercept, 0x80010002u);
  EXPECT_EQ(kHvMessageX64ExceptionIntercept, 0x80010003u);
  EXPECT_EQ(kHvMessageX64ApicEoi, 0x80010004u);
  EXPECT_EQ(kHvMessageX64Halt, 0x80010007u);
  EXPECT_EQ(kHvMessageX64InterruptionDeliverable, 0x80010008u);
  EXPECT_EQ(kHvMessageX64SipiIntercept, 0x80010009u);
}

TEST(HvMessageAbi, HeaderAndRegisterLayoutsAreTheHypervisorsOnes) {
  EXPECT_EQ(sizeof(HvMessageHeader), 16u);  // HV_MESSAGE_SIZE 256 = 16 + payload 240
  EXPECT_EQ(kHvMessagePayloadSize, 240u);
  EXPECT_EQ(offsetof(HvMessageHeader, payload_size), 4u);
  EXPECT_EQ(offsetof(HvMessageHeader, sender), 8u);
  EXPECT_EQ(sizeof(HvX64SegmentRegister), 16u);  // base, limit @8, selector @12, attributes @14
  EXPECT_EQ(offsetof(HvX64SegmentRegister, limit), 8u);
  EXPECT_EQ(offsetof(HvX64SegmentRegister, selector), 12u);
  EXPECT_EQ(offsetof(HvX64SegmentRegister, attributes), 14u);
  EXPECT_EQ(sizeof(HvX64TableRegister), 16u);  // pad[3], limit @6, base @8
  EXPECT_EQ(offsetof(HvX64TableRegister, limit), 6u);
  EXPECT_EQ(offsetof(HvX64TableRegister, base), 8u);
  // Segment attributes: type 0-3, s 4, dpl 5-6, present 7, avl 12, long 13, default 14, g 15.
  EXPECT_EQ(kSegTypeMask, 0xfu);
  EXPECT_EQ(kSegSystemShift, 4u);
  EXPECT_EQ(kSegDplShift, 5u);
  EXPECT_EQ(kSegPresentShift, 7u);
  EXPECT_EQ(kSegAvlShift, 12u);
  EXPECT_EQ(kSegLongShift, 13u);
  EXPECT_EQ(kSegDefaultShift, 14u);
  EXPECT_EQ(kSegGranularityShift, 15u);
}

TEST(HvMessageAbi, InterceptHeaderAndExecutionStateAreTheHypervisorsOnes) {
  EXPECT_EQ(sizeof(HvX64InterceptMessageHeader), 40u);
  EXPECT_EQ(offsetof(HvX64InterceptMessageHeader, instruction_length_cr8), 4u);
  EXPECT_EQ(offsetof(HvX64InterceptMessageHeader, intercept_access_type), 5u);
  EXPECT_EQ(offsetof(HvX64InterceptMessageHeader, execution_state), 6u);
  EXPECT_EQ(offsetof(HvX64InterceptMessageHeader, cs), 8u);
  EXPECT_EQ(offsetof(HvX64InterceptMessageHeader, rip), 24u);
  EXPECT_EQ(offsetof(HvX64InterceptMessageHeader, rflags), 32u);
  // enum hv_intercept_access_type.
  EXPECT_EQ(kHvAccessRead, 0u);
  EXPECT_EQ(kHvAccessWrite, 1u);
  EXPECT_EQ(kHvAccessExecute, 2u);
  // union hv_x64_vp_execution_state: cpl:2, cr0_pe, cr0_am, efer_lma, debug_active,
  // interruption_pending, vtl:4, enclave_mode, interrupt_shadow.
  EXPECT_EQ(kExecCplMask, 0x3u);
  EXPECT_EQ(kExecCr0Pe, 1u << 2);
  EXPECT_EQ(kExecCr0Am, 1u << 3);
  EXPECT_EQ(kExecEferLma, 1u << 4);
  EXPECT_EQ(kExecDebugActive, 1u << 5);
  EXPECT_EQ(kExecInterruptionPending, 1u << 6);
  EXPECT_EQ(kExecInterruptShadow, 1u << 12);
}

TEST(HvMessageAbi, InterceptMessagesAreTheHypervisorsOnes) {
  // struct hv_x64_memory_intercept_message; union hv_x64_memory_access_info.
  EXPECT_EQ(sizeof(HvX64MemoryInterceptMessage), 80u);
  EXPECT_EQ(offsetof(HvX64MemoryInterceptMessage, cache_type), 40u);
  EXPECT_EQ(offsetof(HvX64MemoryInterceptMessage, instruction_byte_count), 44u);
  EXPECT_EQ(offsetof(HvX64MemoryInterceptMessage, memory_access_info), 45u);
  EXPECT_EQ(offsetof(HvX64MemoryInterceptMessage, guest_virtual_address), 48u);
  EXPECT_EQ(offsetof(HvX64MemoryInterceptMessage, guest_physical_address), 56u);
  EXPECT_EQ(offsetof(HvX64MemoryInterceptMessage, instruction_bytes), 64u);
  EXPECT_EQ(kMemAccessGvaValid, 1u << 0);
  EXPECT_EQ(kMemAccessGvaGpaValid, 1u << 1);
  // struct hv_x64_io_port_intercept_message; union hv_x64_io_port_access_info.
  EXPECT_EQ(sizeof(HvX64IoPortInterceptMessage), 128u);
  EXPECT_EQ(offsetof(HvX64IoPortInterceptMessage, port_number), 40u);
  EXPECT_EQ(offsetof(HvX64IoPortInterceptMessage, access_info), 42u);
  EXPECT_EQ(offsetof(HvX64IoPortInterceptMessage, instruction_byte_count), 43u);
  EXPECT_EQ(offsetof(HvX64IoPortInterceptMessage, rax), 48u);
  EXPECT_EQ(offsetof(HvX64IoPortInterceptMessage, instruction_bytes), 56u);
  EXPECT_EQ(offsetof(HvX64IoPortInterceptMessage, ds), 72u);
  EXPECT_EQ(offsetof(HvX64IoPortInterceptMessage, es), 88u);
  EXPECT_EQ(offsetof(HvX64IoPortInterceptMessage, rcx), 104u);
  EXPECT_EQ(offsetof(HvX64IoPortInterceptMessage, rsi), 112u);
  EXPECT_EQ(offsetof(HvX64IoPortInterceptMessage, rdi), 120u);
  EXPECT_EQ(kIoAccessSizeMask, 0x7u);  // access_size:3, string_op:1, rep_prefix:1
  EXPECT_EQ(kIoStringOp, 1u << 3);
  EXPECT_EQ(kIoRepPrefix, 1u << 4);
  // struct hv_x64_cpuid_intercept_message: rax rcx rdx rbx, then the four default results.
  EXPECT_EQ(sizeof(HvX64CpuidInterceptMessage), 104u);
  EXPECT_EQ(offsetof(HvX64CpuidInterceptMessage, rax), 40u);
  EXPECT_EQ(offsetof(HvX64CpuidInterceptMessage, rcx), 48u);
  EXPECT_EQ(offsetof(HvX64CpuidInterceptMessage, rdx), 56u);
  EXPECT_EQ(offsetof(HvX64CpuidInterceptMessage, rbx), 64u);
  EXPECT_EQ(offsetof(HvX64CpuidInterceptMessage, default_result_rax), 72u);
  EXPECT_EQ(offsetof(HvX64CpuidInterceptMessage, default_result_rbx), 96u);
  // struct hv_x64_msr_intercept_message.
  EXPECT_EQ(offsetof(HvX64MsrInterceptMessage, msr_number), 40u);
  EXPECT_EQ(offsetof(HvX64MsrInterceptMessage, rdx), 48u);
  EXPECT_EQ(offsetof(HvX64MsrInterceptMessage, rax), 56u);
}

}  // namespace
}  // namespace ferry::mshv

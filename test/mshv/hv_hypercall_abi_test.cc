// ferry's hypercall vocabulary (lib/mshv/include/ferry/mshv/hv_abi.h) against values written out
// here, by hand, from the hypervisor's published definitions as Linux 6.15+ carries them:
//   include/hyperv/hvgdk_mini.h  HV_STATUS_*, HVCALL_*, enum hv_register_name (its x86_64 part),
//                                enum hv_intercept_type, union
//                                hv_x64_pending_interruption_register, struct hv_register_assoc,
//                                struct hv_input_get_vp_registers
//   include/hyperv/hvhdk_mini.h  enum hv_partition_property_code
//   include/hyperv/hvhdk.h       struct hv_vp_register_page and its HV_X64_REGISTER_CLASS_* bits,
//                                union hv_partition_synthetic_processor_features,
//                                enum hv_translate_gva_result_code, HV_TRANSLATE_GVA_* flags,
//                                struct hv_input_translate_virtual_address
// HV_PARTITION_PROPERTY_TIME_FREEZE (0x00030003) is not in Linux's copy; it is in the
// hypervisor's full hvhdk.h as QEMU's and rust-vmm's mshv bindings carry it.
#include <gtest/gtest.h>

#include <cstddef>

#include "ferry/mshv/hv_abi.h"

namespace ferry::mshv {
namespace {

TEST(HvHypercallAbi, CallCodesAndStatusesAreTheHypervisorsOnes) {
  EXPECT_EQ(kHvCallGetPartitionProperty, 0x0044u);
  EXPECT_EQ(kHvCallSetPartitionProperty, 0x0045u);
  EXPECT_EQ(kHvCallInstallIntercept, 0x004du);
  EXPECT_EQ(kHvCallGetVpRegisters, 0x0050u);
  EXPECT_EQ(kHvCallSetVpRegisters, 0x0051u);
  EXPECT_EQ(kHvCallTranslateVirtualAddress, 0x0052u);
  EXPECT_EQ(kHvCallClearVirtualInterrupt, 0x0056u);
  EXPECT_EQ(kHvCallRegisterInterceptResult, 0x0091u);
  EXPECT_EQ(kHvCallAssertVirtualInterrupt, 0x0094u);
  EXPECT_EQ(kHvCallSignalEventDirect, 0x00c0u);
  EXPECT_EQ(kHvCallPostMessageDirect, 0x00c1u);
  EXPECT_EQ(kHvCallGetGpaPagesAccessStates, 0x00c9u);
  EXPECT_EQ(kHvCallGetVpCpuidValues, 0x00f4u);

  EXPECT_EQ(kHvStatusSuccess, 0x0u);
  EXPECT_EQ(kHvStatusInvalidHypercallCode, 0x2u);
  EXPECT_EQ(kHvStatusInvalidHypercallInput, 0x3u);
  EXPECT_EQ(kHvStatusInvalidAlignment, 0x4u);
  EXPECT_EQ(kHvStatusInvalidParameter, 0x5u);
  EXPECT_EQ(kHvStatusAccessDenied, 0x6u);
  EXPECT_EQ(kHvStatusInvalidPartitionState, 0x7u);
  EXPECT_EQ(kHvStatusOperationDenied, 0x8u);
  EXPECT_EQ(kHvStatusUnknownProperty, 0x9u);
  EXPECT_EQ(kHvStatusPropertyValueOutOfRange, 0xau);
  EXPECT_EQ(kHvStatusInsufficientMemory, 0xbu);
  EXPECT_EQ(kHvStatusInvalidPartitionId, 0xdu);
  EXPECT_EQ(kHvStatusInvalidVpIndex, 0xeu);
  EXPECT_EQ(kHvStatusNotFound, 0x10u);
  EXPECT_EQ(kHvStatusInvalidRegisterValue, 0x50u);
}

TEST(HvHypercallAbi, RegisterNamesAreTheHypervisorsOnes) {
  EXPECT_EQ(kHvRegPendingInterruption, 0x00010002u);
  EXPECT_EQ(kHvRegInterruptState, 0x00010003u);
  EXPECT_EQ(kHvRegRax, 0x00020000u);  // then rcx rdx rbx rsp rbp rsi rdi r8 ... r15 in order
  EXPECT_EQ(kHvRegRcx, 0x00020001u);
  EXPECT_EQ(kHvRegRdx, 0x00020002u);
  EXPECT_EQ(kHvRegRbx, 0x00020003u);
  EXPECT_EQ(kHvRegRsp, 0x00020004u);
  EXPECT_EQ(kHvRegRbp, 0x00020005u);
  EXPECT_EQ(kHvRegRsi, 0x00020006u);
  EXPECT_EQ(kHvRegRdi, 0x00020007u);
  EXPECT_EQ(kHvRegR8, 0x00020008u);
  EXPECT_EQ(kHvRegR15, 0x0002000fu);
  EXPECT_EQ(kHvRegRip, 0x00020010u);
  EXPECT_EQ(kHvRegRflags, 0x00020011u);
  EXPECT_EQ(kHvRegXmm0, 0x00030000u);
  EXPECT_EQ(kHvRegXmm15, 0x0003000fu);
  EXPECT_EQ(kHvRegFpControlStatus, 0x00030018u);
  EXPECT_EQ(kHvRegXmmControlStatus, 0x00030019u);
  EXPECT_EQ(kHvRegCr0, 0x00040000u);
  EXPECT_EQ(kHvRegCr2, 0x00040001u);
  EXPECT_EQ(kHvRegCr3, 0x00040002u);
  EXPECT_EQ(kHvRegCr4, 0x00040003u);
  EXPECT_EQ(kHvRegCr8, 0x00040004u);
  EXPECT_EQ(kHvRegXfem, 0x00040005u);
  EXPECT_EQ(kHvRegDr0, 0x00050000u);
  EXPECT_EQ(kHvRegDr6, 0x00050004u);
  EXPECT_EQ(kHvRegDr7, 0x00050005u);
  EXPECT_EQ(kHvRegEs, 0x00060000u);
  EXPECT_EQ(kHvRegCs, 0x00060001u);
  EXPECT_EQ(kHvRegSs, 0x00060002u);
  EXPECT_EQ(kHvRegDs, 0x00060003u);
  EXPECT_EQ(kHvRegFs, 0x00060004u);
  EXPECT_EQ(kHvRegGs, 0x00060005u);
  EXPECT_EQ(kHvRegLdtr, 0x00060006u);
  EXPECT_EQ(kHvRegTr, 0x00060007u);
  EXPECT_EQ(kHvRegIdtr, 0x00070000u);
  EXPECT_EQ(kHvRegGdtr, 0x00070001u);
  EXPECT_EQ(kHvRegTsc, 0x00080000u);
  EXPECT_EQ(kHvRegEfer, 0x00080001u);
  EXPECT_EQ(kHvRegKernelGsBase, 0x00080002u);
  EXPECT_EQ(kHvRegApicBase, 0x00080003u);
  EXPECT_EQ(kHvRegPat, 0x00080004u);
  EXPECT_EQ(kHvRegSysenterCs, 0x00080005u);
  EXPECT_EQ(kHvRegSfmask, 0x0008000bu);
}

TEST(HvHypercallAbi, PendingInterruptionAndInterceptTypesAreTheHypervisorsOnes) {
  // union hv_x64_pending_interruption_register: interruption_pending:1, interruption_type:3,
  // deliver_error_code:1, instruction_length:4, nested_event:1, reserved:6,
  // interruption_vector:16, error_code:32.
  EXPECT_EQ(kPendingInterruptionPending, 1ull << 0);
  EXPECT_EQ(kPendingInterruptionTypeShift, 1u);
  EXPECT_EQ(kPendingInterruptionDeliverErrorCode, 1ull << 4);
  EXPECT_EQ(kPendingInterruptionLengthShift, 5u);
  EXPECT_EQ(kPendingInterruptionNested, 1ull << 9);
  EXPECT_EQ(kPendingInterruptionVectorShift, 16u);
  EXPECT_EQ(kPendingInterruptionErrorCodeShift, 32u);
  // HV_X64_PENDING_INTERRUPT, HV_X64_PENDING_NMI, HV_X64_PENDING_EXCEPTION.
  EXPECT_EQ(kHvPendingInterrupt, 0u);
  EXPECT_EQ(kHvPendingNmi, 2u);
  EXPECT_EQ(kHvPendingException, 3u);
  // enum hv_intercept_type.
  EXPECT_EQ(kHvInterceptX64IoPort, 0u);
  EXPECT_EQ(kHvInterceptX64Msr, 1u);
  EXPECT_EQ(kHvInterceptX64Cpuid, 2u);
  // struct hv_register_assoc; struct hv_input_get_vp_registers (names follow at 16).
  EXPECT_EQ(sizeof(HvRegisterAssoc), 32u);
  EXPECT_EQ(offsetof(HvRegisterAssoc, value), 16u);
  EXPECT_EQ(sizeof(HvInputGetVpRegisters), 16u);
  EXPECT_EQ(offsetof(HvInputGetVpRegisters, vp_index), 8u);
  EXPECT_EQ(offsetof(HvInputGetVpRegisters, input_vtl), 12u);
}

TEST(HvHypercallAbi, PartitionPropertiesAndSyntheticFeaturesAreTheHypervisorsOnes) {
  EXPECT_EQ(kHvPropertyPrivilegeFlags, 0x00010000u);
  EXPECT_EQ(kHvPropertySyntheticProcFeatures, 0x00010001u);
  EXPECT_EQ(kHvPropertyTimeFreeze, 0x00030003u);
  EXPECT_EQ(kHvPropertyUnimplementedMsrAction, 0x00050017u);
  // union hv_partition_synthetic_processor_features, bank 0.
  EXPECT_EQ(kSynHypervisorPresent, 1ull << 0);
  EXPECT_EQ(kSynHv1, 1ull << 1);
  EXPECT_EQ(kSynAccessPartitionReferenceCounter, 1ull << 3);
  EXPECT_EQ(kSynAccessHypercallRegs, 1ull << 7);
  EXPECT_EQ(kSynAccessVpIndex, 1ull << 8);
  EXPECT_EQ(kSynAccessPartitionReferenceTsc, 1ull << 9);
  EXPECT_EQ(kSynAccessFrequencyRegs, 1ull << 11);
}

TEST(HvHypercallAbi, TranslationCodesAreTheHypervisorsOnes) {
  EXPECT_EQ(kTranslateValidateRead, 0x0001u);
  EXPECT_EQ(kTranslateValidateWrite, 0x0002u);
  EXPECT_EQ(kTranslateValidateExecute, 0x0004u);
  EXPECT_EQ(kTranslatePrivilegeExempt, 0x0008u);
  EXPECT_EQ(kTranslateSetPageTableBits, 0x0010u);
  EXPECT_EQ(kTranslateTlbFlushInhibit, 0x0020u);
  EXPECT_EQ(kTranslateSupervisorAccess, 0x0040u);
  EXPECT_EQ(kTranslateUserAccess, 0x0080u);
  EXPECT_EQ(kTranslateEnforceSmap, 0x0100u);
  EXPECT_EQ(kTranslateOverrideSmap, 0x0200u);
  EXPECT_EQ(kTranslateSuccess, 0u);
  EXPECT_EQ(kTranslatePageNotPresent, 1u);
  EXPECT_EQ(kTranslatePrivilegeViolation, 2u);
  EXPECT_EQ(kTranslateInvalidPageTableFlags, 3u);
  EXPECT_EQ(kTranslateGpaUnmapped, 4u);
  EXPECT_EQ(kTranslateGpaNoReadAccess, 5u);
  EXPECT_EQ(kTranslateGpaNoWriteAccess, 6u);
  EXPECT_EQ(kTranslateGpaIllegalOverlayAccess, 7u);
  EXPECT_EQ(kTranslateIntercept, 8u);
  EXPECT_EQ(kTranslateGpaUnaccepted, 9u);
  EXPECT_EQ(sizeof(HvInputTranslateVirtualAddress), 32u);
  EXPECT_EQ(offsetof(HvInputTranslateVirtualAddress, control_flags), 16u);
  EXPECT_EQ(offsetof(HvInputTranslateVirtualAddress, gva_page), 24u);
}

TEST(HvHypercallAbi, RegisterPageIsTheHypervisorsOne) {  // struct hv_vp_register_page
  EXPECT_EQ(offsetof(HvVpRegisterPage, isvalid), 2u);
  EXPECT_EQ(offsetof(HvVpRegisterPage, dirty), 4u);
  EXPECT_EQ(offsetof(HvVpRegisterPage, gp), 8u);
  EXPECT_EQ(offsetof(HvVpRegisterPage, rip), 136u);
  EXPECT_EQ(offsetof(HvVpRegisterPage, rflags), 144u);
  EXPECT_EQ(offsetof(HvVpRegisterPage, xmm), 160u);
  EXPECT_EQ(offsetof(HvVpRegisterPage, segments), 256u);
  EXPECT_EQ(offsetof(HvVpRegisterPage, cr0), 352u);
  EXPECT_EQ(offsetof(HvVpRegisterPage, efer), 384u);
  EXPECT_EQ(offsetof(HvVpRegisterPage, dr7), 392u);
  EXPECT_EQ(offsetof(HvVpRegisterPage, pending_interruption), 400u);
  EXPECT_EQ(offsetof(HvVpRegisterPage, interrupt_state), 408u);
  EXPECT_EQ(offsetof(HvVpRegisterPage, instruction_emulation_hints), 416u);
  // HV_X64_REGISTER_CLASS_GENERAL, _IP, _XMM, _SEGMENT, _FLAGS: bits of `dirty`.
  EXPECT_EQ(kDirtyGeneral, 1u << 0);
  EXPECT_EQ(kDirtyIp, 1u << 1);
  EXPECT_EQ(kDirtyXmm, 1u << 2);
  EXPECT_EQ(kDirtySegment, 1u << 3);
  EXPECT_EQ(kDirtyFlags, 1u << 4);
}

}  // namespace
}  // namespace ferry::mshv

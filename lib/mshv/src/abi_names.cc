// Names of the ABI's numbers, for error messages.
#include "ferry/mshv/hv_abi.h"
#include "ferry/mshv/mshv_abi.h"

namespace ferry::mshv {

const char* mshv_ioctl_name(unsigned long request) {
  switch (request) {
    case kMshvCreatePartition:
      return "MSHV_CREATE_PARTITION";
    case kMshvInitializePartition:
      return "MSHV_INITIALIZE_PARTITION";
    case kMshvCreateVp:
      return "MSHV_CREATE_VP";
    case kMshvSetGuestMemory:
      return "MSHV_SET_GUEST_MEMORY";
    case kMshvIrqfd:
      return "MSHV_IRQFD";
    case kMshvIoeventfd:
      return "MSHV_IOEVENTFD";
    case kMshvSetMsiRouting:
      return "MSHV_SET_MSI_ROUTING";
    case kMshvGetGpapAccessBitmap:
      return "MSHV_GET_GPAP_ACCESS_BITMAP";
    case kMshvRootHvcall:
      return "MSHV_ROOT_HVCALL";
    case kMshvRunVp:
      return "MSHV_RUN_VP";
    case kMshvGetVpState:
      return "MSHV_GET_VP_STATE";
    case kMshvSetVpState:
      return "MSHV_SET_VP_STATE";
    case kMshvCreateDevice:
      return "MSHV_CREATE_DEVICE";
    case kMshvSetDeviceAttr:
      return "MSHV_SET_DEVICE_ATTR";
    default:
      return "an unknown MSHV ioctl";
  }
}

const char* hv_message_name(uint32_t type) {
  switch (type) {
    case kHvMessageNone:
      return "NONE";
    case kHvMessageUnmappedGpa:
      return "UNMAPPED_GPA";
    case kHvMessageGpaIntercept:
      return "GPA_INTERCEPT";
    case kHvMessageTimerExpired:
      return "TIMER_EXPIRED";
    case kHvMessageInvalidVpRegisterValue:
      return "INVALID_VP_REGISTER_VALUE";
    case kHvMessageUnrecoverableException:
      return "UNRECOVERABLE_EXCEPTION";
    case kHvMessageUnsupportedFeature:
      return "UNSUPPORTED_FEATURE";
    case kHvMessageX64IoPortIntercept:
      return "X64_IO_PORT_INTERCEPT";
    case kHvMessageX64MsrIntercept:
      return "X64_MSR_INTERCEPT";
    case kHvMessageX64CpuidIntercept:
      return "X64_CPUID_INTERCEPT";
    case kHvMessageX64ExceptionIntercept:
      return "X64_EXCEPTION_INTERCEPT";
    case kHvMessageX64ApicEoi:
      return "X64_APIC_EOI";
    case kHvMessageX64Halt:
      return "X64_HALT";
    case kHvMessageX64InterruptionDeliverable:
      return "X64_INTERRUPTION_DELIVERABLE";
    case kHvMessageX64SipiIntercept:
      return "X64_SIPI_INTERCEPT";
    default:
      return "unknown";
  }
}

const char* hvcall_name(uint16_t code) {
  switch (code) {
    case kHvCallGetPartitionProperty:
      return "HvCallGetPartitionProperty";
    case kHvCallSetPartitionProperty:
      return "HvCallSetPartitionProperty";
    case kHvCallInstallIntercept:
      return "HvCallInstallIntercept";
    case kHvCallGetVpRegisters:
      return "HvCallGetVpRegisters";
    case kHvCallSetVpRegisters:
      return "HvCallSetVpRegisters";
    case kHvCallTranslateVirtualAddress:
      return "HvCallTranslateVirtualAddress";
    case kHvCallRegisterInterceptResult:
      return "HvCallRegisterInterceptResult";
    case kHvCallClearVirtualInterrupt:
      return "HvCallClearVirtualInterrupt";
    case kHvCallAssertVirtualInterrupt:
      return "HvCallAssertVirtualInterrupt";
    case kHvCallSignalEventDirect:
      return "HvCallSignalEventDirect";
    case kHvCallPostMessageDirect:
      return "HvCallPostMessageDirect";
    case kHvCallGetGpaPagesAccessStates:
      return "HvCallGetGpaPagesAccessStates";
    case kHvCallGetVpCpuidValues:
      return "HvCallGetVpCpuidValues";
    default:
      return "a hypercall";
  }
}

const char* hv_status_name(uint16_t status) {
  switch (status) {
    case kHvStatusSuccess:
      return "HV_STATUS_SUCCESS";
    case kHvStatusInvalidHypercallCode:
      return "HV_STATUS_INVALID_HYPERCALL_CODE";
    case kHvStatusInvalidHypercallInput:
      return "HV_STATUS_INVALID_HYPERCALL_INPUT";
    case kHvStatusInvalidAlignment:
      return "HV_STATUS_INVALID_ALIGNMENT";
    case kHvStatusInvalidParameter:
      return "HV_STATUS_INVALID_PARAMETER";
    case kHvStatusAccessDenied:
      return "HV_STATUS_ACCESS_DENIED";
    case kHvStatusInvalidPartitionState:
      return "HV_STATUS_INVALID_PARTITION_STATE";
    case kHvStatusOperationDenied:
      return "HV_STATUS_OPERATION_DENIED";
    case kHvStatusUnknownProperty:
      return "HV_STATUS_UNKNOWN_PROPERTY";
    case kHvStatusPropertyValueOutOfRange:
      return "HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE";
    case kHvStatusInsufficientMemory:
      return "HV_STATUS_INSUFFICIENT_MEMORY";
    case kHvStatusInvalidPartitionId:
      return "HV_STATUS_INVALID_PARTITION_ID";
    case kHvStatusInvalidVpIndex:
      return "HV_STATUS_INVALID_VP_INDEX";
    case kHvStatusNotFound:
      return "HV_STATUS_NOT_FOUND";
    case kHvStatusInvalidRegisterValue:
      return "HV_STATUS_INVALID_REGISTER_VALUE";
    default:
      return "an unknown HV_STATUS";
  }
}

const char* hv_translate_result_name(uint32_t result) {
  switch (result) {
    case kTranslateSuccess:
      return "SUCCESS";
    case kTranslatePageNotPresent:
      return "PAGE_NOT_PRESENT";
    case kTranslatePrivilegeViolation:
      return "PRIVILEGE_VIOLATION";
    case kTranslateInvalidPageTableFlags:
      return "INVALID_PAGE_TABLE_FLAGS";
    case kTranslateGpaUnmapped:
      return "GPA_UNMAPPED";
    case kTranslateGpaNoReadAccess:
      return "GPA_NO_READ_ACCESS";
    case kTranslateGpaNoWriteAccess:
      return "GPA_NO_WRITE_ACCESS";
    case kTranslateGpaIllegalOverlayAccess:
      return "GPA_ILLEGAL_OVERLAY_ACCESS";
    case kTranslateIntercept:
      return "INTERCEPT";
    case kTranslateGpaUnaccepted:
      return "GPA_UNACCEPTED";
    default:
      return "unknown";
  }
}

}  // namespace ferry::mshv

// The Microsoft Hypervisor's side of the /dev/mshv ABI, x86_64: the intercept messages that
// MSHV_RUN_VP returns, the hypercalls passed through MSHV_ROOT_HVCALL, register names and values,
// the VP register page and the LAPIC state. Declared by the project from the facts in
// /work/shared/docs/mshv-abi.md and the upstream hvhdk/hvgdk headers; sizes and offsets are held
// by static_assert.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferry::mshv {

// --- messages -----------------------------------------------------------------------------------

enum HvMessageType : uint32_t {
  kHvMessageNone = 0x00000000,
  kHvMessageUnmappedGpa = 0x80000000,
  kHvMessageGpaIntercept = 0x80000001,
  kHvMessageTimerExpired = 0x80000010,
  kHvMessageInvalidVpRegisterValue = 0x80000020,
  kHvMessageUnrecoverableException = 0x80000021,
  kHvMessageUnsupportedFeature = 0x80000022,
  kHvMessageX64IoPortIntercept = 0x80010000,
  kHvMessageX64MsrIntercept = 0x80010001,
  kHvMessageX64CpuidIntercept = 0x80010002,
  kHvMessageX64ExceptionIntercept = 0x80010003,
  kHvMessageX64ApicEoi = 0x80010004,
  kHvMessageX64Halt = 0x80010007,
  kHvMessageX64InterruptionDeliverable = 0x80010008,
  kHvMessageX64SipiIntercept = 0x80010009,
};

// "X64_IO_PORT_INTERCEPT" for an error message; "unknown" for anything else.
const char* hv_message_name(uint32_t type);

struct HvMessageHeader {
  uint32_t message_type;
  uint8_t payload_size;
  uint8_t message_flags;
  uint8_t reserved[2];
  uint64_t sender;
};
constexpr size_t kHvMessagePayloadSize = 240;

struct HvX64SegmentRegister {
  uint64_t base;
  uint32_t limit;
  uint16_t selector;
  uint16_t attributes;
};

// Segment attribute bits.
constexpr uint16_t kSegTypeMask = 0xf;
constexpr unsigned kSegSystemShift = 4;  // s: code/data
constexpr unsigned kSegDplShift = 5;     // 2 bits
constexpr unsigned kSegPresentShift = 7;
constexpr unsigned kSegAvlShift = 12;
constexpr unsigned kSegLongShift = 13;
constexpr unsigned kSegDefaultShift = 14;  // D/B
constexpr unsigned kSegGranularityShift = 15;

struct HvX64TableRegister {
  uint16_t pad[3];
  uint16_t limit;
  uint64_t base;
};

// The header every x64 intercept message starts with.
struct HvX64InterceptMessageHeader {
  uint32_t vp_index;
  uint8_t instruction_length_cr8;  // instruction length in bits 0-3, CR8 in bits 4-7
  uint8_t intercept_access_type;   // kHvAccessRead / Write / Execute
  uint16_t execution_state;
  HvX64SegmentRegister cs;
  uint64_t rip;
  uint64_t rflags;
};
constexpr uint8_t kHvAccessRead = 0;
constexpr uint8_t kHvAccessWrite = 1;
constexpr uint8_t kHvAccessExecute = 2;

// execution_state bits.
constexpr uint16_t kExecCplMask = 0x3;
constexpr uint16_t kExecCr0Pe = 1u << 2;
constexpr uint16_t kExecCr0Am = 1u << 3;
constexpr uint16_t kExecEferLma = 1u << 4;
constexpr uint16_t kExecDebugActive = 1u << 5;
constexpr uint16_t kExecInterruptionPending = 1u << 6;  // an event was being delivered
constexpr uint16_t kExecInterruptShadow = 1u << 12;

struct HvX64IoPortInterceptMessage {
  HvX64InterceptMessageHeader header;
  uint16_t port_number;
  uint8_t access_info;  // access size (1, 2, 4) in bits 0-2, string op bit 3, rep prefix bit 4
  uint8_t instruction_byte_count;
  uint32_t reserved;
  uint64_t rax;
  uint8_t instruction_bytes[16];
  HvX64SegmentRegister ds;
  HvX64SegmentRegister es;
  uint64_t rcx;
  uint64_t rsi;
  uint64_t rdi;
};
constexpr uint8_t kIoAccessSizeMask = 0x7;
constexpr uint8_t kIoStringOp = 1u << 3;
constexpr uint8_t kIoRepPrefix = 1u << 4;

struct HvX64MemoryInterceptMessage {
  HvX64InterceptMessageHeader header;
  uint32_t cache_type;
  uint8_t instruction_byte_count;
  uint8_t memory_access_info;  // gva valid bit 0, gva->gpa valid bit 1
  uint8_t tpr_priority;
  uint8_t reserved1;
  uint64_t guest_virtual_address;
  uint64_t guest_physical_address;
  uint8_t instruction_bytes[16];
};
constexpr uint8_t kMemAccessGvaValid = 1u << 0;
constexpr uint8_t kMemAccessGvaGpaValid = 1u << 1;

struct HvX64CpuidInterceptMessage {
  HvX64InterceptMessageHeader header;
  uint64_t rax, rcx, rdx, rbx;
  uint64_t default_result_rax, default_result_rcx, default_result_rdx, default_result_rbx;
};

struct HvX64MsrInterceptMessage {
  HvX64InterceptMessageHeader header;
  uint32_t msr_number;
  uint32_t reserved;
  uint64_t rdx;
  uint64_t rax;
};

struct HvX64ApicEoiMessage {
  uint32_t vp_index;
  uint32_t interrupt_vector;
};

struct HvX64UnsupportedFeatureMessage {
  uint32_t vp_index;
  uint32_t feature_code;
  uint64_t feature_parameter;
};

// --- hypercalls ---------------------------------------------------------------------------------

enum HvCallCode : uint16_t {
  kHvCallGetPartitionProperty = 0x0044,
  kHvCallSetPartitionProperty = 0x0045,
  kHvCallInstallIntercept = 0x004d,
  kHvCallGetVpRegisters = 0x0050,
  kHvCallSetVpRegisters = 0x0051,
  kHvCallTranslateVirtualAddress = 0x0052,
  kHvCallClearVirtualInterrupt = 0x0056,
  kHvCallRegisterInterceptResult = 0x0091,
  kHvCallAssertVirtualInterrupt = 0x0094,
  kHvCallSignalEventDirect = 0x00c0,
  kHvCallPostMessageDirect = 0x00c1,
  kHvCallGetGpaPagesAccessStates = 0x00c9,
  kHvCallGetVpCpuidValues = 0x00f4,
};

enum HvStatus : uint16_t {
  kHvStatusSuccess = 0x0,
  kHvStatusInvalidHypercallCode = 0x2,
  kHvStatusInvalidHypercallInput = 0x3,
  kHvStatusInvalidAlignment = 0x4,
  kHvStatusInvalidParameter = 0x5,
  kHvStatusAccessDenied = 0x6,
  kHvStatusInvalidPartitionState = 0x7,
  kHvStatusOperationDenied = 0x8,
  kHvStatusUnknownProperty = 0x9,
  kHvStatusPropertyValueOutOfRange = 0xa,
  kHvStatusInsufficientMemory = 0xb,
  kHvStatusInvalidPartitionId = 0xd,
  kHvStatusInvalidVpIndex = 0xe,
  kHvStatusNotFound = 0x10,
  kHvStatusInvalidRegisterValue = 0x50,
};

// "HvCallSetVpRegisters" for an error message.
const char* hvcall_name(uint16_t code);

// "HV_STATUS_INVALID_PARAMETER" for an error message.
const char* hv_status_name(uint16_t status);

enum HvPartitionProperty : uint32_t {
  kHvPropertyPrivilegeFlags = 0x00010000,
  kHvPropertySyntheticProcFeatures = 0x00010001,  // "early": before INITIALIZE_PARTITION
  kHvPropertyTimeFreeze = 0x00030003,
  kHvPropertyUnimplementedMsrAction = 0x00050017,
};
constexpr uint64_t kUnimplementedMsrIgnoreWriteReadZero = 1;

// HV_PARTITION_SYNTHETIC_PROCESSOR_FEATURES bits (bank 0).
constexpr uint64_t kSynHypervisorPresent = 1ull << 0;
constexpr uint64_t kSynHv1 = 1ull << 1;
constexpr uint64_t kSynAccessPartitionReferenceCounter = 1ull << 3;
constexpr uint64_t kSynAccessHypercallRegs = 1ull << 7;
constexpr uint64_t kSynAccessVpIndex = 1ull << 8;
constexpr uint64_t kSynAccessPartitionReferenceTsc = 1ull << 9;
constexpr uint64_t kSynAccessFrequencyRegs = 1ull << 11;

struct HvInputGetPartitionProperty {
  uint64_t partition_id;
  uint32_t property_code;
  uint32_t padding;
};

struct HvInputSetPartitionProperty {
  uint64_t partition_id;
  uint32_t property_code;
  uint32_t padding;
  uint64_t property_value;
};

// Followed by `reps` u32 register names.
struct HvInputGetVpRegisters {
  uint64_t partition_id;
  uint32_t vp_index;
  uint8_t input_vtl;
  uint8_t rsvd_z8;
  uint16_t rsvd_z16;
};

struct HvRegisterValue {
  uint64_t low;
  uint64_t high;
};

// One element of SET_VP_REGISTERS, after an HvInputGetVpRegisters-shaped header.
struct HvRegisterAssoc {
  uint32_t name;
  uint32_t reserved1;
  uint64_t reserved2;
  HvRegisterValue value;
};
// One hypercall page holds at most this many: GET is limited by its 16-byte outputs, SET by its
// 32-byte inputs after the 16-byte header.
constexpr unsigned kMaxRegistersPerGet = 4096 / sizeof(HvRegisterValue);
constexpr unsigned kMaxRegistersPerSet =
    (4096 - sizeof(HvInputGetVpRegisters)) / sizeof(HvRegisterAssoc);

struct HvInputTranslateVirtualAddress {
  uint64_t partition_id;
  uint32_t vp_index;
  uint32_t padding;
  uint64_t control_flags;
  uint64_t gva_page;
};
struct HvOutputTranslateVirtualAddress {
  uint32_t result_code;
  uint32_t cache_type_overlay;
  uint64_t gpa_page;
};
constexpr uint64_t kTranslateValidateRead = 0x1;
constexpr uint64_t kTranslateValidateWrite = 0x2;
constexpr uint64_t kTranslateValidateExecute = 0x4;
constexpr uint64_t kTranslatePrivilegeExempt = 0x8;
constexpr uint64_t kTranslateSetPageTableBits = 0x10;  // set accessed/dirty bits as an access would
constexpr uint64_t kTranslateTlbFlushInhibit = 0x20;
constexpr uint64_t kTranslateSupervisorAccess = 0x40;  // check as CPL 0, whatever the current CPL
constexpr uint64_t kTranslateUserAccess = 0x80;        // check as CPL 3
constexpr uint64_t kTranslateEnforceSmap = 0x100;
constexpr uint64_t kTranslateOverrideSmap = 0x200;
enum HvTranslateResult : uint32_t {
  kTranslateSuccess = 0,
  kTranslatePageNotPresent = 1,
  kTranslatePrivilegeViolation = 2,
  kTranslateInvalidPageTableFlags = 3,
  kTranslateGpaUnmapped = 4,  // the walk succeeded; the GPA is not guest RAM (MMIO)
  kTranslateGpaNoReadAccess = 5,
  kTranslateGpaNoWriteAccess = 6,
  kTranslateGpaIllegalOverlayAccess = 7,
  kTranslateIntercept = 8,
  kTranslateGpaUnaccepted = 9,
};

// The guest's page walk succeeded and gave a GPA: RAM, MMIO (unmapped), or a GPA the partition
// maps without the access asked for (then the RAM or bus access decides, e.g. a ROM write).
constexpr bool hv_translation_reached_gpa(uint32_t result) {
  return result == kTranslateSuccess || result == kTranslateGpaUnmapped ||
         result == kTranslateGpaNoReadAccess || result == kTranslateGpaNoWriteAccess;
}

// "GPA_UNMAPPED" for an error message; "unknown" for anything else.
const char* hv_translate_result_name(uint32_t result);

// HV_REGISTER_PENDING_INTERRUPTION (hv_x64_pending_interruption_register): an event the hypervisor
// delivers on the next dispatch. CR2 of a page fault is set separately (HV_X64_REGISTER_CR2).
constexpr uint64_t kPendingInterruptionPending = 1ull << 0;
constexpr unsigned kPendingInterruptionTypeShift = 1;  // 3 bits: HvPendingInterruptionType
constexpr uint64_t kPendingInterruptionDeliverErrorCode = 1ull << 4;
constexpr unsigned kPendingInterruptionLengthShift = 5;  // 4 bits: software interrupts only
constexpr uint64_t kPendingInterruptionNested = 1ull << 9;
constexpr unsigned kPendingInterruptionVectorShift = 16;     // 16 bits
constexpr unsigned kPendingInterruptionErrorCodeShift = 32;  // 32 bits
enum HvPendingInterruptionType : uint8_t {
  kHvPendingInterrupt = 0,
  kHvPendingNmi = 2,
  kHvPendingException = 3,
};

enum HvInterceptType : uint32_t {
  kHvInterceptX64IoPort = 0,
  kHvInterceptX64Msr = 1,
  kHvInterceptX64Cpuid = 2,
};

#pragma pack(push, 1)
struct HvCpuidResultParameters {
  uint32_t input_eax;
  uint32_t input_ecx;
  uint8_t subleaf_specific;
  uint8_t always_override;
  uint16_t padding;
  uint32_t eax, eax_mask;
  uint32_t ebx, ebx_mask;
  uint32_t ecx, ecx_mask;
  uint32_t edx, edx_mask;
};

struct HvInputRegisterInterceptResult {
  uint64_t partition_id;
  uint32_t vp_index;
  uint32_t intercept_type;
  HvCpuidResultParameters cpuid;  // the larger member of the parameter union
};
#pragma pack(pop)

// --- registers ----------------------------------------------------------------------------------

enum HvRegisterName : uint32_t {
  kHvRegPendingInterruption = 0x00010002,
  kHvRegInterruptState = 0x00010003,
  kHvRegRax = 0x00020000,
  kHvRegRcx = 0x00020001,
  kHvRegRdx = 0x00020002,
  kHvRegRbx = 0x00020003,
  kHvRegRsp = 0x00020004,
  kHvRegRbp = 0x00020005,
  kHvRegRsi = 0x00020006,
  kHvRegRdi = 0x00020007,
  kHvRegR8 = 0x00020008,
  kHvRegR15 = 0x0002000f,
  kHvRegRip = 0x00020010,
  kHvRegRflags = 0x00020011,
  kHvRegXmm0 = 0x00030000,
  kHvRegXmm15 = 0x0003000f,
  kHvRegFpControlStatus = 0x00030018,
  kHvRegXmmControlStatus = 0x00030019,
  kHvRegCr0 = 0x00040000,
  kHvRegCr2 = 0x00040001,
  kHvRegCr3 = 0x00040002,
  kHvRegCr4 = 0x00040003,
  kHvRegCr8 = 0x00040004,
  kHvRegXfem = 0x00040005,
  kHvRegDr0 = 0x00050000,
  kHvRegDr6 = 0x00050004,
  kHvRegDr7 = 0x00050005,
  kHvRegEs = 0x00060000,
  kHvRegCs = 0x00060001,
  kHvRegSs = 0x00060002,
  kHvRegDs = 0x00060003,
  kHvRegFs = 0x00060004,
  kHvRegGs = 0x00060005,
  kHvRegLdtr = 0x00060006,
  kHvRegTr = 0x00060007,
  kHvRegIdtr = 0x00070000,
  kHvRegGdtr = 0x00070001,
  kHvRegTsc = 0x00080000,
  kHvRegEfer = 0x00080001,
  kHvRegKernelGsBase = 0x00080002,
  kHvRegApicBase = 0x00080003,
  kHvRegPat = 0x00080004,
  kHvRegSysenterCs = 0x00080005,
  kHvRegSfmask = 0x0008000b,
};

// The VP register page (mmap offset kVpMmapRegisters). Valid only when isvalid != 0; after
// writing a class, set its bit in `dirty`. Control registers are read-only here.
struct HvVpRegisterPage {
  uint16_t version;
  uint8_t isvalid;
  uint8_t rsvdz;
  uint32_t dirty;
  uint64_t gp[16];  // rax rcx rdx rbx rsp rbp rsi rdi r8 ... r15 (hardware order)
  uint64_t rip;
  uint64_t rflags;
  uint8_t reserved[8];
  HvRegisterValue xmm[6];
  HvX64SegmentRegister segments[6];  // es cs ss ds fs gs
  uint64_t cr0, cr3, cr4, cr8, efer, dr7;
  uint64_t pending_interruption;
  uint64_t interrupt_state;
  uint64_t instruction_emulation_hints;
  uint64_t xfem;
  uint8_t reserved1[256];
  uint64_t interrupt_vectors;
};
// dirty bits: register classes.
constexpr uint32_t kDirtyGeneral = 1u << 0;
constexpr uint32_t kDirtyIp = 1u << 1;
constexpr uint32_t kDirtyXmm = 1u << 2;
constexpr uint32_t kDirtySegment = 1u << 3;
constexpr uint32_t kDirtyFlags = 1u << 4;
// Indices into HvVpRegisterPage::gp (the hardware register numbers).
enum GpIndex : unsigned { kGpRax, kGpRcx, kGpRdx, kGpRbx, kGpRsp, kGpRbp, kGpRsi, kGpRdi };
enum SegIndex : unsigned { kSegEs, kSegCs, kSegSs, kSegDs, kSegFs, kSegGs };

// MSHV_VP_STATE_LAPIC: HV_X64_INTERRUPT_CONTROLLER_STATE, in a 4 KiB buffer.
struct HvLapicState {
  uint32_t apic_id;
  uint32_t apic_version;
  uint32_t apic_ldr;
  uint32_t apic_dfr;
  uint32_t apic_spurious;
  uint32_t apic_isr[8];
  uint32_t apic_tmr[8];
  uint32_t apic_irr[8];
  uint32_t apic_esr;
  uint32_t apic_icr_high;
  uint32_t apic_icr_low;
  uint32_t apic_lvt_timer;
  uint32_t apic_lvt_thermal;
  uint32_t apic_lvt_perfmon;
  uint32_t apic_lvt_lint0;
  uint32_t apic_lvt_lint1;
  uint32_t apic_lvt_error;
  uint32_t apic_lvt_cmci;
  uint32_t apic_error_status;
  uint32_t apic_initial_count;
  uint32_t apic_counter_value;
  uint32_t apic_divide_configuration;
  uint32_t apic_remote_read;
};
constexpr uint32_t kApicDeliveryModeMask = 0x700;
constexpr uint32_t kApicDeliveryNmi = 0x4 << 8;
constexpr uint32_t kApicDeliveryExtInt = 0x7 << 8;

// --- the layout, checked ------------------------------------------------------------------------

static_assert(sizeof(HvMessageHeader) == 16);
static_assert(sizeof(HvMessageHeader) + kHvMessagePayloadSize == 256);
static_assert(sizeof(HvX64SegmentRegister) == 16);
static_assert(sizeof(HvX64TableRegister) == 16);
static_assert(offsetof(HvX64TableRegister, limit) == 6);
static_assert(sizeof(HvX64InterceptMessageHeader) == 40);
static_assert(offsetof(HvX64InterceptMessageHeader, instruction_length_cr8) == 4);
static_assert(offsetof(HvX64InterceptMessageHeader, intercept_access_type) == 5);
static_assert(offsetof(HvX64InterceptMessageHeader, execution_state) == 6);
static_assert(offsetof(HvX64InterceptMessageHeader, cs) == 8);
static_assert(offsetof(HvX64InterceptMessageHeader, rip) == 24);
static_assert(offsetof(HvX64InterceptMessageHeader, rflags) == 32);
static_assert(offsetof(HvX64IoPortInterceptMessage, port_number) == 40);
static_assert(offsetof(HvX64IoPortInterceptMessage, access_info) == 42);
static_assert(offsetof(HvX64IoPortInterceptMessage, instruction_byte_count) == 43);
static_assert(offsetof(HvX64IoPortInterceptMessage, rax) == 48);
static_assert(offsetof(HvX64IoPortInterceptMessage, instruction_bytes) == 56);
static_assert(offsetof(HvX64IoPortInterceptMessage, ds) == 72);
static_assert(offsetof(HvX64IoPortInterceptMessage, es) == 88);
static_assert(offsetof(HvX64IoPortInterceptMessage, rcx) == 104);
static_assert(offsetof(HvX64IoPortInterceptMessage, rsi) == 112);
static_assert(offsetof(HvX64IoPortInterceptMessage, rdi) == 120);
static_assert(sizeof(HvX64IoPortInterceptMessage) == 128);
static_assert(offsetof(HvX64MemoryInterceptMessage, cache_type) == 40);
static_assert(offsetof(HvX64MemoryInterceptMessage, instruction_byte_count) == 44);
static_assert(offsetof(HvX64MemoryInterceptMessage, memory_access_info) == 45);
static_assert(offsetof(HvX64MemoryInterceptMessage, guest_virtual_address) == 48);
static_assert(offsetof(HvX64MemoryInterceptMessage, guest_physical_address) == 56);
static_assert(offsetof(HvX64MemoryInterceptMessage, instruction_bytes) == 64);
static_assert(sizeof(HvX64MemoryInterceptMessage) == 80);
static_assert(offsetof(HvX64CpuidInterceptMessage, rax) == 40);
static_assert(offsetof(HvX64CpuidInterceptMessage, rbx) == 64);
static_assert(offsetof(HvX64CpuidInterceptMessage, default_result_rax) == 72);
static_assert(sizeof(HvX64CpuidInterceptMessage) == 104);
static_assert(offsetof(HvX64MsrInterceptMessage, msr_number) == 40);
static_assert(offsetof(HvX64MsrInterceptMessage, rdx) == 48);
static_assert(offsetof(HvX64MsrInterceptMessage, rax) == 56);
static_assert(sizeof(HvX64ApicEoiMessage) == 8);
static_assert(sizeof(HvX64UnsupportedFeatureMessage) == 16);
static_assert(sizeof(HvX64IoPortInterceptMessage) <= kHvMessagePayloadSize);
static_assert(sizeof(HvX64MemoryInterceptMessage) <= kHvMessagePayloadSize);

static_assert(sizeof(HvInputGetPartitionProperty) == 16);
static_assert(sizeof(HvInputSetPartitionProperty) == 24);
static_assert(sizeof(HvInputGetVpRegisters) == 16);
static_assert(offsetof(HvInputGetVpRegisters, input_vtl) == 12);
static_assert(sizeof(HvRegisterValue) == 16);
static_assert(sizeof(HvRegisterAssoc) == 32);
static_assert(offsetof(HvRegisterAssoc, value) == 16);
static_assert(kMaxRegistersPerGet == 256 && kMaxRegistersPerSet == 127);
static_assert(sizeof(HvInputTranslateVirtualAddress) == 32);
static_assert(offsetof(HvInputTranslateVirtualAddress, control_flags) == 16);
static_assert(offsetof(HvInputTranslateVirtualAddress, gva_page) == 24);
static_assert(sizeof(HvOutputTranslateVirtualAddress) == 16);
static_assert(sizeof(HvCpuidResultParameters) == 44);
static_assert(offsetof(HvCpuidResultParameters, subleaf_specific) == 8);
static_assert(offsetof(HvCpuidResultParameters, eax) == 12);
static_assert(offsetof(HvCpuidResultParameters, edx_mask) == 40);
static_assert(sizeof(HvInputRegisterInterceptResult) == 60);
static_assert(offsetof(HvInputRegisterInterceptResult, cpuid) == 16);

static_assert(offsetof(HvVpRegisterPage, isvalid) == 2);
static_assert(offsetof(HvVpRegisterPage, dirty) == 4);
static_assert(offsetof(HvVpRegisterPage, gp) == 8);
static_assert(offsetof(HvVpRegisterPage, rip) == 136);
static_assert(offsetof(HvVpRegisterPage, rflags) == 144);
static_assert(offsetof(HvVpRegisterPage, xmm) == 160);
static_assert(offsetof(HvVpRegisterPage, segments) == 256);
static_assert(offsetof(HvVpRegisterPage, cr0) == 352);
static_assert(offsetof(HvVpRegisterPage, cr3) == 360);
static_assert(offsetof(HvVpRegisterPage, cr4) == 368);
static_assert(offsetof(HvVpRegisterPage, cr8) == 376);
static_assert(offsetof(HvVpRegisterPage, efer) == 384);
static_assert(offsetof(HvVpRegisterPage, dr7) == 392);
static_assert(offsetof(HvVpRegisterPage, pending_interruption) == 400);
static_assert(offsetof(HvVpRegisterPage, interrupt_state) == 408);
static_assert(offsetof(HvVpRegisterPage, interrupt_vectors) == 688);
static_assert(sizeof(HvVpRegisterPage) <= 4096);

static_assert(offsetof(HvLapicState, apic_spurious) == 16);
static_assert(offsetof(HvLapicState, apic_isr) == 20);
static_assert(offsetof(HvLapicState, apic_tmr) == 52);
static_assert(offsetof(HvLapicState, apic_irr) == 84);
static_assert(offsetof(HvLapicState, apic_esr) == 116);
static_assert(offsetof(HvLapicState, apic_lvt_lint0) == 140);
static_assert(offsetof(HvLapicState, apic_lvt_lint1) == 144);
static_assert(sizeof(HvLapicState) == 176);

}  // namespace ferry::mshv

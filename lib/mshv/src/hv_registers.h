// Conversions between the hypervisor's register names and values and the accel register types,
// and the register lists ferry reads and writes in one hypercall.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "ferry/accel/registers.h"
#include "ferry/mshv/hv_abi.h"

namespace ferry::mshv {

// accel::Regs, in its field order: rax rbx rcx rdx rsi rdi rsp rbp r8-r15 rip rflags.
extern const std::array<uint32_t, 18> kGeneralRegisterNames;
accel::Regs regs_from_values(std::span<const HvRegisterValue, 18> values);
std::array<HvRegisterValue, 18> regs_to_values(const accel::Regs& regs);

// accel::SpecialRegs: cs ds es fs gs ss tr ldtr gdtr idtr cr0 cr2 cr3 cr4 cr8 efer apic_base.
extern const std::array<uint32_t, 17> kSpecialRegisterNames;
accel::SpecialRegs sregs_from_values(std::span<const HvRegisterValue, 17> values);
std::array<HvRegisterValue, 17> sregs_to_values(const accel::SpecialRegs& sregs);

// accel::FpuState: xmm0-15, FP control/status (FCW in bytes 0-1), XMM control/status (MXCSR in
// bytes 8-11). Writing starts from the current values so the fields accel does not model stay.
extern const std::array<uint32_t, 18> kFpuRegisterNames;
accel::FpuState fpu_from_values(std::span<const HvRegisterValue, 18> values);
std::array<HvRegisterValue, 18> fpu_to_values(const accel::FpuState& fpu,
                                              std::span<const HvRegisterValue, 18> current);

accel::Segment segment_from_hv(const HvX64SegmentRegister& segment);
HvX64SegmentRegister segment_to_hv(const accel::Segment& segment);

// The general registers in the register page (valid only when the page says so).
accel::Regs regs_from_page(const HvVpRegisterPage& page);
/// Writes rax-r15, rip and rflags into the page and marks their classes dirty.
void regs_to_page(const accel::Regs& regs, HvVpRegisterPage& page);

/// HV_REGISTER_PENDING_INTERRUPTION for a hardware exception `vector`, delivered with
/// `error_code` when it has one.
uint64_t pending_exception(uint8_t vector, std::optional<uint32_t> error_code);

/// The register-page slot of a general register, rip or rflags, with its dirty class; nullptr for
/// any other name.
uint64_t* page_slot(HvVpRegisterPage& page, uint32_t name, uint32_t* dirty_class);

}  // namespace ferry::mshv

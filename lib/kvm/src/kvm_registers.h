// Conversions between KVM's register structures and the accel ones.
#pragma once

#include <linux/kvm.h>

#include <span>

#include "ferry/accel/registers.h"

namespace ferry::kvm {

accel::Regs from_kvm(const kvm_regs& regs);
kvm_regs to_kvm(const accel::Regs& regs);
accel::SpecialRegs from_kvm(const kvm_sregs& sregs);
// Starts from `current` so fields accel does not model (the interrupt bitmap) are kept.
kvm_sregs to_kvm(const accel::SpecialRegs& sregs, const kvm_sregs& current);
// The x87/SSE part of an XSAVE area (Intel SDM vol. 1, 13.4): components in their init state
// (XSTATE_BV clear) read as their init values; writing marks x87 and SSE as in use.
accel::FpuState fpu_from_xsave(std::span<const uint8_t, 4096> area);
void fpu_into_xsave(const accel::FpuState& fpu, std::span<uint8_t, 4096> area);

}  // namespace ferry::kvm

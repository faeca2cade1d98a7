// Conversions between KVM's register structures and the accel ones.
#pragma once

#include <linux/kvm.h>

#include "ferry/accel/registers.h"

namespace ferry::kvm {

accel::Regs from_kvm(const kvm_regs& regs);
kvm_regs to_kvm(const accel::Regs& regs);
accel::SpecialRegs from_kvm(const kvm_sregs& sregs);
// Starts from `current` so fields accel does not model (the interrupt bitmap) are kept.
kvm_sregs to_kvm(const accel::SpecialRegs& sregs, const kvm_sregs& current);
accel::FpuState from_kvm(const kvm_fpu& fpu);
kvm_fpu to_kvm(const accel::FpuState& fpu, const kvm_fpu& current);

}  // namespace ferry::kvm

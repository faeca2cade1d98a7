#include "ferry/x86/cpu_state.h"

namespace ferry::x86 {

CpuMode cpu_mode(const CpuState& state) {
  const accel::SpecialRegs& s = state.sregs;
  if ((s.cr0 & accel::kCr0Pe) == 0 || (state.regs.rflags & kRflagsVm) != 0) return CpuMode::kReal;
  if ((s.efer & accel::kEferLma) != 0) {
    if (s.cs.l) return CpuMode::kLong64;
    return s.cs.db ? CpuMode::kCompat32 : CpuMode::kCompat16;
  }
  return s.cs.db ? CpuMode::kProt32 : CpuMode::kProt16;
}

unsigned default_width(CpuMode mode) {
  switch (mode) {
    case CpuMode::kLong64:
      return 64;
    case CpuMode::kProt32:
    case CpuMode::kCompat32:
      return 32;
    case CpuMode::kReal:
    case CpuMode::kProt16:
    case CpuMode::kCompat16:
      return 16;
  }
  return 16;
}

unsigned cpl(const CpuState& state) {
  if ((state.sregs.cr0 & accel::kCr0Pe) == 0) return 0;
  if ((state.regs.rflags & kRflagsVm) != 0) return 3;
  return state.sregs.ss.dpl & 3;
}

}  // namespace ferry::x86

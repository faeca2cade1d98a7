// The vCPU state the emulator reads and updates: the backend-neutral registers of lib/accel, so a
// backend hands its state over without conversion.
#pragma once

#include <cstdint>
#include <optional>

#include "ferry/accel/registers.h"

namespace ferry::x86 {

enum class CpuMode : uint8_t {
  kReal,    // CR0.PE = 0 (and virtual-8086 mode, which addresses memory the same way)
  kProt16,  // protected mode, 16-bit code segment
  kProt32,  // protected mode, 32-bit code segment
  kLong64,  // long mode, 64-bit code segment
  kCompat16,
  kCompat32,
};

struct CpuState {
  accel::Regs regs;
  accel::SpecialRegs sregs;
  // XMM registers and MXCSR. Only SSE moves use them: leave this empty and the emulator answers
  // Outcome::kNeedsFpu for those, so a backend fetches the FPU state only when it must.
  std::optional<accel::FpuState> fpu;
};

/// The execution mode the segment and control registers select.
CpuMode cpu_mode(const CpuState& state);

/// Bits of the default operand/address size in `mode` (16, 32 or 64).
unsigned default_width(CpuMode mode);

/// The current privilege level: 0 in real mode, 3 in virtual-8086 mode, else SS.DPL.
unsigned cpl(const CpuState& state);

constexpr uint64_t kRflagsCf = 1ull << 0;
constexpr uint64_t kRflagsPf = 1ull << 2;
constexpr uint64_t kRflagsAf = 1ull << 4;
constexpr uint64_t kRflagsZf = 1ull << 6;
constexpr uint64_t kRflagsSf = 1ull << 7;
constexpr uint64_t kRflagsTf = 1ull << 8;
constexpr uint64_t kRflagsDf = 1ull << 10;
constexpr uint64_t kRflagsOf = 1ull << 11;
constexpr uint64_t kRflagsVm = 1ull << 17;
constexpr uint64_t kRflagsAc = 1ull << 18;
constexpr uint64_t kRflagsArith =
    kRflagsCf | kRflagsPf | kRflagsAf | kRflagsZf | kRflagsSf | kRflagsOf;

constexpr uint64_t kCr0Mp = 1ull << 1;
constexpr uint64_t kCr0Em = 1ull << 2;
constexpr uint64_t kCr0Ts = 1ull << 3;
constexpr uint64_t kCr0Wp = 1ull << 16;
constexpr uint64_t kCr4Pse = 1ull << 4;
constexpr uint64_t kCr4La57 = 1ull << 12;
constexpr uint64_t kCr4Smep = 1ull << 20;
constexpr uint64_t kCr4Smap = 1ull << 21;
constexpr uint64_t kEferNxe = 1ull << 11;

}  // namespace ferry::x86

// Integer arithmetic with the exact RFLAGS results of the SDM.
#pragma once

#include <cstdint>

namespace ferry::x86 {

enum class AluOp : uint8_t { kAdd, kAdc, kSub, kSbb, kAnd, kOr, kXor };

struct AluResult {
  uint64_t value = 0;  // truncated to the operand size
  uint64_t flags = 0;  // CF, PF, AF, ZF, SF, OF (other bits zero)
};

/// a op b at `bytes` (1, 2, 4, 8); ADC and SBB take the carry from `rflags`. Logic operations
/// clear CF, OF and AF.
AluResult alu(AluOp op, uint64_t a, uint64_t b, unsigned bytes, uint64_t rflags);

/// Whether condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc) holds under `rflags`.
bool condition_holds(unsigned cc, uint64_t rflags);

}  // namespace ferry::x86

#include "alu.h"

#include "ferry/x86/cpu_state.h"

namespace ferry::x86 {
namespace {

uint64_t mask_of(unsigned bytes) { return bytes >= 8 ? ~0ull : (1ull << (bytes * 8)) - 1; }

// PF, ZF and SF of a result.
uint64_t result_flags(uint64_t value, unsigned bytes) {
  uint64_t flags = 0;
  if ((__builtin_popcount(static_cast<unsigned>(value & 0xff)) & 1) == 0) flags |= kRflagsPf;
  if (value == 0) flags |= kRflagsZf;
  if ((value >> (bytes * 8 - 1)) & 1) flags |= kRflagsSf;
  return flags;
}

}  // namespace

AluResult alu(AluOp op, uint64_t a, uint64_t b, unsigned bytes, uint64_t rflags) {
  const uint64_t mask = mask_of(bytes);
  const unsigned msb = bytes * 8 - 1;
  a &= mask;
  b &= mask;
  const uint64_t carry_in = (rflags & kRflagsCf) != 0 ? 1 : 0;
  AluResult r;
  switch (op) {
    case AluOp::kAdd:
    case AluOp::kAdc: {
      const uint64_t c = op == AluOp::kAdc ? carry_in : 0;
      const unsigned __int128 wide = static_cast<unsigned __int128>(a) + b + c;
      r.value = static_cast<uint64_t>(wide) & mask;
      if ((wide >> (msb + 1)) != 0) r.flags |= kRflagsCf;
      if ((((a ^ r.value) & (b ^ r.value)) >> msb) & 1) r.flags |= kRflagsOf;
      if (((a ^ b ^ r.value) & 0x10) != 0) r.flags |= kRflagsAf;
      break;
    }
    case AluOp::kSub:
    case AluOp::kSbb: {
      const uint64_t c = op == AluOp::kSbb ? carry_in : 0;
      r.value = (a - b - c) & mask;
      if (static_cast<unsigned __int128>(a) < static_cast<unsigned __int128>(b) + c) {
        r.flags |= kRflagsCf;
      }
      if ((((a ^ b) & (a ^ r.value)) >> msb) & 1) r.flags |= kRflagsOf;
      if (((a ^ b ^ r.value) & 0x10) != 0) r.flags |= kRflagsAf;
      break;
    }
    case AluOp::kAnd:
      r.value = a & b;
      break;
    case AluOp::kOr:
      r.value = a | b;
      break;
    case AluOp::kXor:
      r.value = a ^ b;
      break;
  }
  r.flags |= result_flags(r.value, bytes);
  return r;
}

bool condition_holds(unsigned cc, uint64_t rflags) {
  const bool cf = (rflags & kRflagsCf) != 0, zf = (rflags & kRflagsZf) != 0;
  const bool sf = (rflags & kRflagsSf) != 0, of = (rflags & kRflagsOf) != 0;
  const bool pf = (rflags & kRflagsPf) != 0;
  bool holds = false;
  switch ((cc >> 1) & 7) {
    case 0:
      holds = of;
      break;
    case 1:
      holds = cf;
      break;
    case 2:
      holds = zf;
      break;
    case 3:
      holds = cf || zf;
      break;
    case 4:
      holds = sf;
      break;
    case 5:
      holds = pf;
      break;
    case 6:
      holds = sf != of;
      break;
    case 7:
      holds = zf || sf != of;
      break;
  }
  return (cc & 1) != 0 ? !holds : holds;
}

}  // namespace ferry::x86

// The arithmetic and logic instructions with a memory operand, with their exact flags.
#include <fmt/format.h>

#include "alu.h"
#include "execute.h"

namespace ferry::x86 {
namespace {

struct BinarySpec {
  AluOp op;
  bool writes;  // CMP and TEST only set flags
};

std::optional<BinarySpec> binary_spec(ZydisMnemonic mnemonic) {
  switch (mnemonic) {
    case ZYDIS_MNEMONIC_ADD:
      return BinarySpec{AluOp::kAdd, true};
    case ZYDIS_MNEMONIC_ADC:
      return BinarySpec{AluOp::kAdc, true};
    case ZYDIS_MNEMONIC_SUB:
      return BinarySpec{AluOp::kSub, true};
    case ZYDIS_MNEMONIC_SBB:
      return BinarySpec{AluOp::kSbb, true};
    case ZYDIS_MNEMONIC_AND:
      return BinarySpec{AluOp::kAnd, true};
    case ZYDIS_MNEMONIC_OR:
      return BinarySpec{AluOp::kOr, true};
    case ZYDIS_MNEMONIC_XOR:
      return BinarySpec{AluOp::kXor, true};
    case ZYDIS_MNEMONIC_CMP:
      return BinarySpec{AluOp::kSub, false};
    case ZYDIS_MNEMONIC_TEST:
      return BinarySpec{AluOp::kAnd, false};
    default:
      return std::nullopt;
  }
}

}  // namespace

Expected<void> execute_binary(Execution& x) {
  const std::optional<BinarySpec> spec = binary_spec(x.insn().mnemonic);
  if (!spec) return fail(x.unsupported("not an arithmetic instruction"));
  const AccessKind kind = spec->writes ? AccessKind::kWrite : AccessKind::kRead;
  FERRY_ASSIGN(const Location destination, x.locate(0, kind));
  FERRY_ASSIGN(const Location source, x.locate(1, AccessKind::kRead));
  FERRY_ASSIGN(const uint64_t a, x.load(destination));
  FERRY_ASSIGN(const uint64_t b, x.load(source));
  const AluResult r = alu(spec->op, a, b, destination.bytes, x.rflags());
  if (spec->writes) FERRY_TRY(x.store(destination, r.value));
  x.set_flags(r.flags, kRflagsArith);
  return {};
}

Expected<void> execute_unary(Execution& x) {
  const ZydisMnemonic mnemonic = x.insn().mnemonic;
  FERRY_ASSIGN(const Location operand, x.locate(0, AccessKind::kWrite));
  FERRY_ASSIGN(const uint64_t value, x.load(operand));
  if (mnemonic == ZYDIS_MNEMONIC_NOT) return x.store(operand, ~value);
  AluResult r;
  uint64_t mask = kRflagsArith;
  if (mnemonic == ZYDIS_MNEMONIC_NEG) {
    r = alu(AluOp::kSub, 0, value, operand.bytes, 0);
  } else {
    // INC and DEC leave CF alone.
    r = alu(mnemonic == ZYDIS_MNEMONIC_INC ? AluOp::kAdd : AluOp::kSub, value, 1, operand.bytes, 0);
    mask &= ~kRflagsCf;
  }
  FERRY_TRY(x.store(operand, r.value));
  x.set_flags(r.flags, mask);
  return {};
}

Expected<void> execute_cmpxchg(Execution& x) {
  FERRY_ASSIGN(const Location destination, x.locate(0, AccessKind::kWrite));
  FERRY_ASSIGN(const Location source, x.locate(1, AccessKind::kRead));
  const unsigned bytes = destination.bytes;
  const ZydisRegister accumulator = bytes == 1   ? ZYDIS_REGISTER_AL
                                    : bytes == 2 ? ZYDIS_REGISTER_AX
                                    : bytes == 4 ? ZYDIS_REGISTER_EAX
                                                 : ZYDIS_REGISTER_RAX;
  FERRY_ASSIGN(const uint64_t current, x.load(destination));
  FERRY_ASSIGN(const uint64_t replacement, x.load(source));
  const uint64_t expected = x.read_gpr(accumulator);
  const AluResult r = alu(AluOp::kSub, expected, current, bytes, 0);
  if (current == expected) {
    FERRY_TRY(x.store(destination, replacement));
  } else {
    // The processor always writes the destination: the old value when the compare fails.
    FERRY_TRY(x.store(destination, current));
    x.write_gpr(accumulator, current);
  }
  x.set_flags(r.flags, kRflagsArith);
  return {};
}

Expected<void> execute_bit(Execution& x) {
  const ZydisMnemonic mnemonic = x.insn().mnemonic;
  const AccessKind kind = mnemonic == ZYDIS_MNEMONIC_BT ? AccessKind::kRead : AccessKind::kWrite;
  const ZydisDecodedOperand& base = x.operand(0);
  FERRY_ASSIGN(const Location offset_location, x.locate(1, AccessKind::kRead));
  FERRY_ASSIGN(const uint64_t raw_offset, x.load(offset_location));
  const unsigned bytes = base.size / 8;
  const unsigned bits = bytes * 8;

  Location target;
  uint64_t bit = raw_offset & (bits - 1);
  if (base.type == ZYDIS_OPERAND_TYPE_MEMORY && offset_location.kind == Location::Kind::kRegister) {
    // A register bit offset is signed and may address beyond the operand, in operand-size steps.
    const auto offset = static_cast<int64_t>(sign_extend(raw_offset, offset_location.bytes));
    const int64_t step = offset >= 0 ? offset / bits : -((-(offset + 1)) / bits) - 1;
    FERRY_ASSIGN(target, x.locate_memory(base, kind, step * bytes, bytes));
  } else {
    FERRY_ASSIGN(target, x.locate(0, kind));
  }
  FERRY_ASSIGN(const uint64_t value, x.load(target));
  const bool set = ((value >> bit) & 1) != 0;
  uint64_t updated = value;
  switch (mnemonic) {
    case ZYDIS_MNEMONIC_BTS:
      updated |= 1ull << bit;
      break;
    case ZYDIS_MNEMONIC_BTR:
      updated &= ~(1ull << bit);
      break;
    case ZYDIS_MNEMONIC_BTC:
      updated ^= 1ull << bit;
      break;
    default:
      break;
  }
  if (mnemonic != ZYDIS_MNEMONIC_BT) FERRY_TRY(x.store(target, updated));
  x.set_flags(set ? kRflagsCf : 0, kRflagsCf);
  return {};
}

}  // namespace ferry::x86

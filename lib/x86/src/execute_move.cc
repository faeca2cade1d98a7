// MOV, MOVNTI, MOVZX/MOVSX/MOVSXD, XCHG and SETcc: data movement without arithmetic flags.
#include "alu.h"
#include "execute.h"

namespace ferry::x86 {

Expected<void> execute_mov(Execution& x) {
  FERRY_ASSIGN(const Location source, x.locate(1, AccessKind::kRead));
  FERRY_ASSIGN(const Location destination, x.locate(0, AccessKind::kWrite));
  FERRY_ASSIGN(const uint64_t value, x.load(source));
  return x.store(destination, value);
}

Expected<void> execute_extend(Execution& x) {
  FERRY_ASSIGN(const Location source, x.locate(1, AccessKind::kRead));
  FERRY_ASSIGN(const Location destination, x.locate(0, AccessKind::kWrite));
  FERRY_ASSIGN(uint64_t value, x.load(source));
  if (x.insn().mnemonic != ZYDIS_MNEMONIC_MOVZX) value = sign_extend(value, source.bytes);
  return x.store(destination, truncate(value, destination.bytes));
}

Expected<void> execute_xchg(Execution& x) {
  // The memory operand (if any) is mapped for writing first: XCHG with memory is locked and must
  // not read a location it cannot write.
  FERRY_ASSIGN(const Location first, x.locate(0, AccessKind::kWrite));
  FERRY_ASSIGN(const Location second, x.locate(1, AccessKind::kWrite));
  FERRY_ASSIGN(const uint64_t a, x.load(first));
  FERRY_ASSIGN(const uint64_t b, x.load(second));
  // Memory is written before the register, so a register is changed only once the store is done.
  if (first.kind == Location::Kind::kMemory) {
    FERRY_TRY(x.store(first, b));
    return x.store(second, a);
  }
  FERRY_TRY(x.store(second, a));
  return x.store(first, b);
}

Expected<void> execute_setcc(Execution& x) {
  FERRY_ASSIGN(const Location destination, x.locate(0, AccessKind::kWrite));
  return x.store(destination, condition_holds(x.insn().opcode & 0xf, x.rflags()) ? 1 : 0);
}

}  // namespace ferry::x86

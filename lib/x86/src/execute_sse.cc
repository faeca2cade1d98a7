// SSE moves between XMM registers and memory (one side is always memory: the other forms never
// reach an MMIO intercept and are rejected).
#include <fmt/format.h>

#include <array>
#include <cstring>

#include "execute.h"

namespace ferry::x86 {
namespace {

using Bytes16 = std::array<uint8_t, 16>;

bool is_xmm(const ZydisDecodedOperand& op) {
  return op.type == ZYDIS_OPERAND_TYPE_REGISTER && op.reg.value >= ZYDIS_REGISTER_XMM0 &&
         op.reg.value <= ZYDIS_REGISTER_XMM15;
}

unsigned xmm_index(const ZydisDecodedOperand& op) {
  return static_cast<unsigned>(op.reg.value - ZYDIS_REGISTER_XMM0);
}

// Aligned forms fault on a linear address that is not a multiple of 16.
bool requires_alignment(ZydisMnemonic mnemonic) {
  switch (mnemonic) {
    case ZYDIS_MNEMONIC_MOVDQA:
    case ZYDIS_MNEMONIC_MOVAPS:
    case ZYDIS_MNEMONIC_MOVAPD:
    case ZYDIS_MNEMONIC_MOVNTDQ:
    case ZYDIS_MNEMONIC_MOVNTPS:
    case ZYDIS_MNEMONIC_MOVNTPD:
      return true;
    default:
      return false;
  }
}

}  // namespace

Expected<void> execute_sse_move(Execution& x) {
  const ZydisDecodedOperand& dst = x.operand(0);
  const ZydisDecodedOperand& src = x.operand(1);
  if (!is_xmm(dst) && !is_xmm(src)) {
    return fail(x.unsupported("MMX registers are not emulated; only XMM forms are"));
  }
  if (dst.type != ZYDIS_OPERAND_TYPE_MEMORY && src.type != ZYDIS_OPERAND_TYPE_MEMORY) {
    return fail(x.unsupported("register-to-register SSE moves never access memory"));
  }
  const uint64_t cr0 = x.sregs().cr0;
  if ((cr0 & kCr0Em) != 0 || (x.sregs().cr4 & accel::kCr4Osfxsr) == 0) {
    return fail(x.faults().raise(Vector::kUd, std::nullopt,
                                 "SSE instruction with CR0.EM set or CR4.OSFXSR clear"));
  }
  if ((cr0 & kCr0Ts) != 0) {
    return fail(x.faults().raise(Vector::kNm, std::nullopt, "SSE instruction with CR0.TS set"));
  }
  if (x.fpu() == nullptr) return fail(Errc::kInternal, "x86 emulator: SSE move without FPU state");
  accel::FpuState& fpu = *x.fpu();
  const ZydisMnemonic mnemonic = x.insn().mnemonic;
  const unsigned alignment = requires_alignment(mnemonic) ? 16 : 1;

  Bytes16 value{};
  unsigned bytes = 0;
  if (is_xmm(src)) {
    value = fpu.xmm[xmm_index(src)];
    bytes = 16;
  } else if (src.type == ZYDIS_OPERAND_TYPE_MEMORY) {
    bytes = src.size / 8;
    if (bytes == 0 || bytes > 16) return fail(x.unsupported("memory operand size"));
    FERRY_ASSIGN(const Mapped from, x.memory().map(x.segment_of(src), x.effective_address(src),
                                                   bytes, AccessKind::kRead, alignment));
    FERRY_TRY(x.memory().read(from, std::span(value.data(), bytes)));
  } else {
    return fail(x.unsupported("source operand"));
  }

  if (is_xmm(dst)) {
    // Loads into XMM zero the bytes above the element (MOVD, MOVQ, MOVSS/MOVSD from memory).
    Bytes16 result{};
    std::memcpy(result.data(), value.data(), bytes);
    fpu.xmm[xmm_index(dst)] = result;
    x.xmm_written |= static_cast<uint16_t>(1u << xmm_index(dst));
    return {};
  }
  if (dst.type == ZYDIS_OPERAND_TYPE_MEMORY) {
    const unsigned size = dst.size / 8;
    if (size == 0 || size > 16) return fail(x.unsupported("memory operand size"));
    FERRY_ASSIGN(const Mapped to, x.memory().map(x.segment_of(dst), x.effective_address(dst), size,
                                                 AccessKind::kWrite, alignment));
    return x.memory().write(to, std::span<const uint8_t>(value.data(), size));
  }
  return fail(x.unsupported("destination operand"));
}

}  // namespace ferry::x86

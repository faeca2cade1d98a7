#include "ferry/x86/emulator.h"

#include <fmt/format.h>

#include <algorithm>

#include "decode_cache.h"
#include "decoder.h"
#include "execute.h"
#include "execution.h"

namespace ferry::x86 {
namespace {

enum class Family : uint8_t {
  kMov,
  kExtend,
  kXchg,
  kSetcc,
  kBinary,
  kUnary,
  kCmpxchg,
  kBit,
  kString,
  kSse,
  kUnsupported
};

Family family_of(const ZydisDecodedInstruction& insn) {
  switch (insn.mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
    case ZYDIS_MNEMONIC_MOVNTI:
      return Family::kMov;
    case ZYDIS_MNEMONIC_MOVZX:
    case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_MOVSXD:
      return Family::kExtend;
    case ZYDIS_MNEMONIC_XCHG:
      return Family::kXchg;
    case ZYDIS_MNEMONIC_SETB:
    case ZYDIS_MNEMONIC_SETBE:
    case ZYDIS_MNEMONIC_SETL:
    case ZYDIS_MNEMONIC_SETLE:
    case ZYDIS_MNEMONIC_SETNB:
    case ZYDIS_MNEMONIC_SETNBE:
    case ZYDIS_MNEMONIC_SETNL:
    case ZYDIS_MNEMONIC_SETNLE:
    case ZYDIS_MNEMONIC_SETNO:
    case ZYDIS_MNEMONIC_SETNP:
    case ZYDIS_MNEMONIC_SETNS:
    case ZYDIS_MNEMONIC_SETNZ:
    case ZYDIS_MNEMONIC_SETO:
    case ZYDIS_MNEMONIC_SETP:
    case ZYDIS_MNEMONIC_SETS:
    case ZYDIS_MNEMONIC_SETZ:
      return Family::kSetcc;
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_ADC:
    case ZYDIS_MNEMONIC_SUB:
    case ZYDIS_MNEMONIC_SBB:
    case ZYDIS_MNEMONIC_AND:
    case ZYDIS_MNEMONIC_OR:
    case ZYDIS_MNEMONIC_XOR:
    case ZYDIS_MNEMONIC_CMP:
    case ZYDIS_MNEMONIC_TEST:
      return Family::kBinary;
    case ZYDIS_MNEMONIC_INC:
    case ZYDIS_MNEMONIC_DEC:
    case ZYDIS_MNEMONIC_NEG:
    case ZYDIS_MNEMONIC_NOT:
      return Family::kUnary;
    case ZYDIS_MNEMONIC_CMPXCHG:
      return Family::kCmpxchg;
    case ZYDIS_MNEMONIC_BT:
    case ZYDIS_MNEMONIC_BTS:
    case ZYDIS_MNEMONIC_BTR:
    case ZYDIS_MNEMONIC_BTC:
      return Family::kBit;
    case ZYDIS_MNEMONIC_MOVSB:
    case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_MOVSQ:
    case ZYDIS_MNEMONIC_STOSB:
    case ZYDIS_MNEMONIC_STOSW:
    case ZYDIS_MNEMONIC_STOSD:
    case ZYDIS_MNEMONIC_STOSQ:
    case ZYDIS_MNEMONIC_LODSB:
    case ZYDIS_MNEMONIC_LODSW:
    case ZYDIS_MNEMONIC_LODSD:
    case ZYDIS_MNEMONIC_LODSQ:
      return Family::kString;
    case ZYDIS_MNEMONIC_MOVSD:  // the string move (A5) or the SSE scalar move (F2 0F 10/11)
      return insn.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT ? Family::kString : Family::kSse;
    case ZYDIS_MNEMONIC_MOVD:
    case ZYDIS_MNEMONIC_MOVQ:
    case ZYDIS_MNEMONIC_MOVDQU:
    case ZYDIS_MNEMONIC_MOVDQA:
    case ZYDIS_MNEMONIC_MOVUPS:
    case ZYDIS_MNEMONIC_MOVAPS:
    case ZYDIS_MNEMONIC_MOVUPD:
    case ZYDIS_MNEMONIC_MOVAPD:
    case ZYDIS_MNEMONIC_MOVSS:
    case ZYDIS_MNEMONIC_MOVNTDQ:
    case ZYDIS_MNEMONIC_MOVNTPS:
    case ZYDIS_MNEMONIC_MOVNTPD:
      return Family::kSse;
    default:
      return Family::kUnsupported;
  }
}

// The instruction pointer after `length` bytes, wrapped to the code segment's width.
uint64_t next_rip(uint64_t rip, unsigned length, CpuMode mode) {
  const uint64_t next = rip + length;
  switch (default_width(mode)) {
    case 64:
      return next;
    case 32:
      return next & 0xffffffffull;
    default:
      return next & 0xffffull;
  }
}

// The CS offset of an instruction's byte `index`. Not wrapped: outside 64-bit mode the CPU
// checks every instruction byte against the CS limit, so an instruction that runs past IP
// 0xffff (or EIP 0xffffffff) raises #GP instead of continuing at offset 0.
uint64_t instruction_byte_offset(uint64_t rip, size_t index, CpuMode mode) {
  if (mode == CpuMode::kLong64) return rip + index;
  return (rip & 0xffffffffull) + index;
}

Outcome make_outcome(Outcome::Kind kind, unsigned length) {
  Outcome outcome;
  outcome.kind = kind;
  outcome.length = static_cast<uint8_t>(length);
  return outcome;
}

// Real-mode exceptions push no error code (virtual-8086 mode goes through the protected-mode IDT
// and does).
Outcome fault_outcome(Fault fault, unsigned length, const CpuState& state) {
  Outcome outcome = make_outcome(Outcome::Kind::kFault, length);
  outcome.fault = std::move(fault);
  if ((state.sregs.cr0 & accel::kCr0Pe) == 0) outcome.fault.error_code.reset();
  return outcome;
}

}  // namespace

Emulator::Emulator(Platform& platform, EmulatorOptions options)
    : platform_(platform),
      walker_(platform),
      options_(options),
      cache_(options.decode_cache ? std::make_unique<DecodeCache>() : nullptr) {}

Emulator::Emulator(Platform& platform, Translator& translator, EmulatorOptions options)
    : platform_(platform),
      walker_(platform),
      external_(&translator),
      options_(options),
      cache_(options.decode_cache ? std::make_unique<DecodeCache>() : nullptr) {}

Emulator::~Emulator() = default;
Emulator::Emulator(Emulator&&) noexcept = default;

Expected<Outcome> Emulator::emulate(CpuState& state, std::span<const uint8_t> bytes) {
  const CpuMode mode = cpu_mode(state);
  FaultRecord faults;
  std::array<uint8_t, kMaxInstructionLength> buffer;
  size_t have = std::min(bytes.size(), buffer.size());
  std::copy_n(bytes.begin(), have, buffer.begin());

  const Decoded* cached =
      cache_ ? cache_->find(mode, state.regs.rip, std::span(buffer.data(), have)) : nullptr;
  Decoded fresh;
  MemoryAccess fetcher(state, mode, platform_, translator(), faults);
  const ZydisApi* decoder = nullptr;
  if (cached == nullptr) {
    FERRY_ASSIGN(decoder, zydis());
  }
  while (cached == nullptr) {
    const DecodeStatus status = decode(*decoder, mode, std::span(buffer.data(), have), fresh);
    if (status == DecodeStatus::kOk) {
      if (cache_) cache_->insert(mode, state.regs.rip, fresh);
      break;
    }
    if (status == DecodeStatus::kNeedMoreBytes) {
      // Fetch one byte at a time: each byte gets its own limit check and page walk, so a fault
      // is raised only for a byte the instruction really has.
      const uint64_t ip = instruction_byte_offset(state.regs.rip, have, mode);
      auto mapped = fetcher.map(Seg::kCs, ip, 1, AccessKind::kFetch);
      if (!mapped && faults.fault()) return fault_outcome(*faults.fault(), 0, state);
      if (!mapped) return tl::unexpected(mapped.error());
      if (!platform_.read_ram(mapped->gpa[0], std::span(&buffer[have], 1))) {
        return fail(Errc::kUnsupported,
                    "x86 emulator: the instruction at rip {:#x} continues at guest-physical {:#x}, "
                    "which is not RAM (executing from MMIO is not supported); bytes so far: {}",
                    state.regs.rip, mapped->gpa[0], hex_bytes(std::span(buffer.data(), have)));
      }
      ++have;
      continue;
    }
    const std::string text = hex_bytes(std::span(buffer.data(), have));
    if (status == DecodeStatus::kTooLong) {
      return fault_outcome({Vector::kGp, 0, 0, "instruction longer than 15 bytes: " + text}, 0,
                           state);
    }
    return fault_outcome({Vector::kUd, std::nullopt, 0, "invalid instruction: " + text}, 0, state);
  }

  const Decoded& decoded = cached != nullptr ? *cached : fresh;
  if (mode != CpuMode::kLong64) {
    // The bytes an intercept handed over passed no limit check: check the whole instruction.
    auto within = fetcher.check_segment(Seg::kCs, instruction_byte_offset(state.regs.rip, 0, mode),
                                        decoded.insn.length, AccessKind::kFetch);
    if (!within && faults.fault()) return fault_outcome(*faults.fault(), 0, state);
    if (!within) return tl::unexpected(within.error());
  }
  const Family family = family_of(decoded.insn);
  if (family == Family::kSse && !state.fpu) {
    return make_outcome(Outcome::Kind::kNeedsFpu, decoded.insn.length);
  }
  // Working copies of what the instruction may change: the registers, and the XMM registers for
  // SSE moves.
  accel::Regs regs = state.regs;
  std::optional<accel::FpuState> fpu;
  if (family == Family::kSse) fpu = state.fpu;
  Execution x(state, regs, fpu ? &*fpu : nullptr, mode, decoded, platform_, translator(), faults);
  Expected<void> result;
  bool finished = true;
  switch (family) {
    case Family::kMov:
      result = execute_mov(x);
      break;
    case Family::kExtend:
      result = execute_extend(x);
      break;
    case Family::kXchg:
      result = execute_xchg(x);
      break;
    case Family::kSetcc:
      result = execute_setcc(x);
      break;
    case Family::kBinary:
      result = execute_binary(x);
      break;
    case Family::kUnary:
      result = execute_unary(x);
      break;
    case Family::kCmpxchg:
      result = execute_cmpxchg(x);
      break;
    case Family::kBit:
      result = execute_bit(x);
      break;
    case Family::kString: {
      EmulatorOptions string_options = options_;
      if ((state.regs.rflags & kRflagsTf) != 0) string_options.max_rep_iterations = 1;
      auto done = execute_string(x, string_options);
      if (done) {
        finished = *done;
      } else {
        result = tl::unexpected(done.error());
      }
      break;
    }
    case Family::kSse:
      result = execute_sse_move(x);
      break;
    case Family::kUnsupported:
      result = fail(x.unsupported("not an instruction the MMIO emulator supports"));
      break;
  }
  if (!result) {
    if (!faults.fault()) return tl::unexpected(result.error());
    // A REP keeps the iterations that completed before the fault; RIP stays at the instruction.
    if (family == Family::kString) {
      regs.rip = state.regs.rip;
      state.regs = regs;
    }
    return fault_outcome(*faults.fault(), decoded.insn.length, state);
  }
  regs.rflags &= ~(1ull << 16);  // RF: cleared once an instruction completes
  if (finished) regs.rip = next_rip(state.regs.rip, decoded.insn.length, mode);
  const bool single_step = (state.regs.rflags & kRflagsTf) != 0;  // TF as the instruction began
  state.regs = regs;
  if (x.xmm_written != 0) state.fpu = fpu;
  Outcome outcome = make_outcome(Outcome::Kind::kDone, decoded.insn.length);
  outcome.xmm_written = x.xmm_written;
  outcome.single_step = single_step;
  return outcome;
}

}  // namespace ferry::x86

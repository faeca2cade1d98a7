// The working state of one instruction: its decoded form, the registers it changes, and its
// operands resolved to registers, immediates or mapped memory.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "decoder.h"
#include "fault_record.h"
#include "memory_access.h"

namespace ferry::x86 {

struct Location {
  enum class Kind : uint8_t { kRegister, kMemory, kImmediate };
  Kind kind = Kind::kImmediate;
  unsigned bytes = 0;
  ZydisRegister reg = ZYDIS_REGISTER_NONE;
  uint64_t immediate = 0;
  Mapped memory;
};

class Execution {
 public:
  /// `state` is the state before the instruction (segments and control registers never change);
  /// the instruction updates `regs` and, for SSE moves, `fpu` (working copies).
  Execution(const CpuState& state, accel::Regs& regs, accel::FpuState* fpu, CpuMode mode,
            const Decoded& decoded, Platform& platform, Translator& translator, FaultRecord& faults)
      : regs_(regs),
        fpu_(fpu),
        sregs_(state.sregs),
        mode_(mode),
        decoded_(decoded),
        faults_(faults),
        memory_(state, mode, platform, translator, faults) {}

  const accel::SpecialRegs& sregs() const { return sregs_; }
  /// The working XMM state; only SSE moves have one (null otherwise).
  accel::FpuState* fpu() { return fpu_; }
  CpuMode mode() const { return mode_; }
  const ZydisDecodedInstruction& insn() const { return decoded_.insn; }
  const ZydisDecodedOperand& operand(unsigned index) const { return decoded_.operands[index]; }
  MemoryAccess& memory() { return memory_; }
  FaultRecord& faults() { return faults_; }
  /// True when the instruction carries this prefix attribute (ZYDIS_ATTRIB_HAS_*).
  bool has(ZydisInstructionAttributes attribute) const {
    return (decoded_.insn.attributes & attribute) != 0;
  }

  /// The value of a general-purpose register at its width (AH..BH are bits 15:8).
  uint64_t read_gpr(ZydisRegister reg) const;
  /// Writes a general-purpose register as the CPU does: 8/16-bit writes merge, 32-bit writes
  /// zero-extend to 64 bits.
  void write_gpr(ZydisRegister reg, uint64_t value);
  /// The full 64-bit register by encoding number (0 = RAX, 1 = RCX, ... 15 = R15).
  uint64_t& gpr(unsigned number);

  /// The offset of a memory operand, truncated to the address size.
  uint64_t effective_address(const ZydisDecodedOperand& op) const;
  /// The segment a memory operand goes through (the override, or the default for its base).
  Seg segment_of(const ZydisDecodedOperand& op) const;
  /// The segment of the last segment-override prefix, if any.
  std::optional<Seg> segment_override() const;

  /// Resolves visible operand `index`; a memory operand is mapped for `kind` (read-modify-write
  /// instructions map for kWrite so the write permission is checked before anything happens).
  Expected<Location> locate(unsigned index, AccessKind kind);
  /// Maps `bytes` at the memory operand's address plus `displacement` (BT with a register offset).
  Expected<Location> locate_memory(const ZydisDecodedOperand& op, AccessKind kind,
                                   int64_t displacement, unsigned bytes);
  Expected<uint64_t> load(const Location& location);
  Expected<void> store(const Location& location, uint64_t value);

  /// Replaces the RFLAGS bits in `mask` with those of `value`.
  void set_flags(uint64_t value, uint64_t mask) {
    regs_.rflags = (regs_.rflags & ~mask) | (value & mask);
  }
  uint64_t rflags() const { return regs_.rflags; }

  /// The error for an instruction (or form of it) the emulator does not carry out.
  Error unsupported(std::string_view what) const;

  uint16_t xmm_written = 0;

 private:
  accel::Regs& regs_;
  accel::FpuState* fpu_;
  const accel::SpecialRegs& sregs_;
  CpuMode mode_;
  const Decoded& decoded_;
  FaultRecord& faults_;
  MemoryAccess memory_;
};

/// Masks `value` to `bytes` (1, 2, 4 or 8).
constexpr uint64_t truncate(uint64_t value, unsigned bytes) {
  return bytes >= 8 ? value : value & ((1ull << (bytes * 8)) - 1);
}

/// Sign-extends the low `bytes` of value to 64 bits.
constexpr uint64_t sign_extend(uint64_t value, unsigned bytes) {
  if (bytes >= 8) return value;
  const unsigned shift = 64 - bytes * 8;
  return static_cast<uint64_t>(static_cast<int64_t>(value << shift) >> shift);
}

}  // namespace ferry::x86

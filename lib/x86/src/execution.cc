#include "execution.h"

#include <fmt/format.h>

#include <array>
#include <cstring>

namespace ferry::x86 {
namespace {

// accel::Regs in the x86 encoding order of the registers.
constexpr uint64_t accel::Regs::*kGprs[16] = {
    &accel::Regs::rax, &accel::Regs::rcx, &accel::Regs::rdx, &accel::Regs::rbx,
    &accel::Regs::rsp, &accel::Regs::rbp, &accel::Regs::rsi, &accel::Regs::rdi,
    &accel::Regs::r8,  &accel::Regs::r9,  &accel::Regs::r10, &accel::Regs::r11,
    &accel::Regs::r12, &accel::Regs::r13, &accel::Regs::r14, &accel::Regs::r15};

struct GprSlot {
  uint8_t number = 0;  // encoding number of the 64-bit register
  uint8_t bytes = 8;
  bool high_byte = false;  // AH, CH, DH, BH
};

// Zydis's general-purpose registers (AL..R15, in its enum order) to slots, built once.
constexpr auto kSlots = [] {
  std::array<GprSlot, ZYDIS_REGISTER_R15 + 1> slots{};
  for (int r = ZYDIS_REGISTER_AL; r <= ZYDIS_REGISTER_R15; ++r) {
    GprSlot& slot = slots[r];
    if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) {
      slot = {static_cast<uint8_t>(r - ZYDIS_REGISTER_AH), 1, true};
    } else if (r <= ZYDIS_REGISTER_BL) {
      slot = {static_cast<uint8_t>(r - ZYDIS_REGISTER_AL), 1, false};
    } else if (r <= ZYDIS_REGISTER_R15B) {
      slot = {static_cast<uint8_t>(r - ZYDIS_REGISTER_SPL + 4), 1, false};
    } else if (r <= ZYDIS_REGISTER_R15W) {
      slot = {static_cast<uint8_t>(r - ZYDIS_REGISTER_AX), 2, false};
    } else if (r <= ZYDIS_REGISTER_R15D) {
      slot = {static_cast<uint8_t>(r - ZYDIS_REGISTER_EAX), 4, false};
    } else {
      slot = {static_cast<uint8_t>(r - ZYDIS_REGISTER_RAX), 8, false};
    }
  }
  return slots;
}();

// Callers pass general-purpose registers only (is_gpr); anything else maps to RAX, never out of
// bounds.
GprSlot slot_of(ZydisRegister reg) {
  return reg >= ZYDIS_REGISTER_AL && reg <= ZYDIS_REGISTER_R15 ? kSlots[reg] : GprSlot{};
}

bool is_gpr(ZydisRegister reg) { return reg >= ZYDIS_REGISTER_AL && reg <= ZYDIS_REGISTER_R15; }

}  // namespace

uint64_t& Execution::gpr(unsigned number) { return regs_.*kGprs[number & 15]; }

uint64_t Execution::read_gpr(ZydisRegister reg) const {
  const GprSlot slot = slot_of(reg);
  const uint64_t full = regs_.*kGprs[slot.number];
  if (slot.high_byte) return (full >> 8) & 0xff;
  return truncate(full, slot.bytes);
}

void Execution::write_gpr(ZydisRegister reg, uint64_t value) {
  const GprSlot slot = slot_of(reg);
  uint64_t& full = gpr(slot.number);
  if (slot.high_byte) {
    full = (full & ~0xff00ull) | ((value & 0xff) << 8);
  } else if (slot.bytes == 4) {
    full = value & 0xffffffffull;
  } else if (slot.bytes == 8) {
    full = value;
  } else {
    const uint64_t mask = (1ull << (slot.bytes * 8)) - 1;
    full = (full & ~mask) | (value & mask);
  }
}

uint64_t Execution::effective_address(const ZydisDecodedOperand& op) const {
  uint64_t address = static_cast<uint64_t>(op.mem.disp.value);
  const ZydisRegister base = op.mem.base;
  if (base == ZYDIS_REGISTER_RIP || base == ZYDIS_REGISTER_EIP || base == ZYDIS_REGISTER_IP) {
    address += regs_.rip + decoded_.insn.length;
  } else if (base != ZYDIS_REGISTER_NONE) {
    address += read_gpr(base);
  }
  if (op.mem.index != ZYDIS_REGISTER_NONE) {
    address += read_gpr(op.mem.index) * op.mem.scale;
  }
  return truncate(address, decoded_.insn.address_width / 8);
}

std::optional<Seg> Execution::segment_override() const {
  // The last segment prefix wins. In 64-bit mode Zydis reports ES, CS, SS and DS prefixes as
  // ignored (they add no base), but the CPU still lets them decide between #SS and #GP for a
  // non-canonical address, so every one counts here.
  std::optional<Seg> found;
  const auto& raw = decoded_.insn.raw;
  for (unsigned i = 0; i < raw.prefix_count && i < ZYDIS_MAX_INSTRUCTION_LENGTH; ++i) {
    switch (raw.prefixes[i].value) {
      case 0x26:
        found = Seg::kEs;
        break;
      case 0x2e:
        found = Seg::kCs;
        break;
      case 0x36:
        found = Seg::kSs;
        break;
      case 0x3e:
        found = Seg::kDs;
        break;
      case 0x64:
        found = Seg::kFs;
        break;
      case 0x65:
        found = Seg::kGs;
        break;
      default:
        break;
    }
  }
  return found;
}

Seg Execution::segment_of(const ZydisDecodedOperand& op) const {
  if (const std::optional<Seg> seg = segment_override()) return *seg;
  switch (op.mem.segment) {
    case ZYDIS_REGISTER_ES:
      return Seg::kEs;
    case ZYDIS_REGISTER_CS:
      return Seg::kCs;
    case ZYDIS_REGISTER_SS:
      return Seg::kSs;
    case ZYDIS_REGISTER_FS:
      return Seg::kFs;
    case ZYDIS_REGISTER_GS:
      return Seg::kGs;
    default:
      return Seg::kDs;
  }
}

Expected<Location> Execution::locate_memory(const ZydisDecodedOperand& op, AccessKind kind,
                                            int64_t displacement, unsigned bytes) {
  const uint64_t offset = truncate(effective_address(op) + static_cast<uint64_t>(displacement),
                                   decoded_.insn.address_width / 8);
  FERRY_ASSIGN(Mapped mapped, memory_.map(segment_of(op), offset, bytes, kind));
  return Location{.kind = Location::Kind::kMemory,
                  .bytes = bytes,
                  .reg = ZYDIS_REGISTER_NONE,
                  .immediate = 0,
                  .memory = mapped};
}

Expected<Location> Execution::locate(unsigned index, AccessKind kind) {
  const ZydisDecodedOperand& op = decoded_.operands[index];
  const unsigned bytes = op.size / 8;
  switch (op.type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
      if (!is_gpr(op.reg.value)) break;
      return Location{.kind = Location::Kind::kRegister,
                      .bytes = bytes,
                      .reg = op.reg.value,
                      .immediate = 0,
                      .memory = {}};
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
      return Location{.kind = Location::Kind::kImmediate,
                      .bytes = bytes,
                      .reg = ZYDIS_REGISTER_NONE,
                      // Zydis sign-extends signed immediates to 64 bits; users truncate to the
                      // destination's size (imm32 sign-extends into a 64-bit MOV or ADD).
                      .immediate = op.imm.value.u,
                      .memory = {}};
    case ZYDIS_OPERAND_TYPE_MEMORY:
      if (op.mem.type != ZYDIS_MEMOP_TYPE_MEM || bytes == 0 || bytes > 8) break;
      return locate_memory(op, kind, 0, bytes);
    default:
      break;
  }
  return fail(
      unsupported(fmt::format("operand {} is neither a general-purpose register, an "
                              "immediate nor a memory operand of 1-8 bytes",
                              index + 1)));
}

Expected<uint64_t> Execution::load(const Location& location) {
  switch (location.kind) {
    case Location::Kind::kRegister:
      return read_gpr(location.reg);
    case Location::Kind::kImmediate:
      return location.immediate;
    case Location::Kind::kMemory: {
      uint8_t raw[8] = {};
      FERRY_TRY(memory_.read(location.memory, std::span(raw, location.bytes)));
      uint64_t value = 0;
      std::memcpy(&value, raw, sizeof value);
      return truncate(value, location.bytes);
    }
  }
  return fail(Errc::kInternal, "x86 emulator: unknown operand location");
}

Expected<void> Execution::store(const Location& location, uint64_t value) {
  switch (location.kind) {
    case Location::Kind::kRegister:
      write_gpr(location.reg, value);
      return {};
    case Location::Kind::kMemory: {
      uint8_t raw[8];
      std::memcpy(raw, &value, sizeof raw);
      return memory_.write(location.memory, std::span<const uint8_t>(raw, location.bytes));
    }
    case Location::Kind::kImmediate:
      break;
  }
  return fail(Errc::kInternal, "x86 emulator: an instruction stores to an immediate");
}

Error Execution::unsupported(std::string_view what) const {
  return Error(Errc::kUnsupported,
               fmt::format("x86 emulator: unsupported instruction {} ({} bytes: {}) at rip {:#x}: "
                           "{}; the VMM cannot emulate this MMIO access, so the guest's driver "
                           "must use a plain MOV or a supported form",
                           mnemonic_name(decoded_.insn.mnemonic), decoded_.insn.length,
                           hex_bytes(std::span(decoded_.bytes.data(), decoded_.insn.length)),
                           regs_.rip, what));
}

}  // namespace ferry::x86

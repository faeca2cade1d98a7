// Zydis, wrapped: one instruction decoded for the CPU mode, with its bytes kept for messages.
#pragma once

#include <Zydis/Zydis.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "ferry/x86/cpu_state.h"
#include "zydis_api.h"

namespace ferry::x86 {

constexpr size_t kMaxInstructionLength = 15;

// Left uninitialized on purpose (it is on the hot path): decode() fills the instruction, its
// visible operands and its bytes.
struct Decoded {
  ZydisDecodedInstruction insn;
  std::array<ZydisDecodedOperand, ZYDIS_MAX_OPERAND_COUNT> operands;
  std::array<uint8_t, kMaxInstructionLength> bytes;
};

enum class DecodeStatus : uint8_t {
  kOk,
  kNeedMoreBytes,  // the buffer ended inside the instruction
  kTooLong,        // more than 15 bytes: #GP(0)
  kInvalid,        // no instruction (or an illegal prefix combination): #UD
};

/// Decodes the instruction at the start of `bytes` for `mode` with the loaded Zydis.
DecodeStatus decode(const ZydisApi& zydis, CpuMode mode, std::span<const uint8_t> bytes,
                    Decoded& out);

/// "MOV" for error messages (the number when Zydis is not loaded).
std::string mnemonic_name(ZydisMnemonic mnemonic);

/// "f3 48 a5" for error messages.
std::string hex_bytes(std::span<const uint8_t> bytes);

}  // namespace ferry::x86

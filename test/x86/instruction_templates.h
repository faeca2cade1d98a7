// The instruction forms the differential test generates: opcode, operands, sizes, which
// prefixes apply and which flags the SDM leaves undefined.
#pragma once

#include <cstdint>
#include <span>

namespace ferry::x86::test {

enum class Form : uint8_t {
  kModrm,   // one memory operand through ModRM (plus a register in ModRM.reg or a /digit)
  kMoffs,   // A0-A3: the address is an immediate of the address size
  kString,  // MOVS, STOS, LODS (with or without REP)
};

enum class Width : uint8_t {
  kByte,   // 8-bit operands
  kWord,   // 16-bit, whatever the prefixes (MOVZX r, m16 source)
  kV,      // 16/32/64 by operand size (66, REX.W)
  kY,      // 32/64 by REX.W only (MOVNTI, MOVD/MOVQ)
  kFixed,  // SSE: mem_bytes decides
};

enum class Imm : uint8_t { kNone, kByte, kZ };  // kZ: 16 or 32 bits by operand size

struct Template {
  const char* name;
  uint8_t opcode[3];
  uint8_t opcode_length;
  uint8_t mandatory_prefix;  // 0x66, 0xf2, 0xf3 for SSE; 0 otherwise
  int8_t digit;              // ModRM.reg for /digit forms; -1 when it names a register
  Form form;
  Width width;
  Imm imm;
  uint8_t mem_bytes;  // the memory access size when it is not the operand size (0: same)
  bool xmm;           // ModRM.reg is an XMM register
  bool lockable;
  bool long_mode_only;
  uint8_t alignment;         // 16 for the aligned SSE forms
  uint64_t undefined_flags;  // RFLAGS bits not compared
  bool bit_offset;           // BT r/m, r: the register is a signed bit offset
};

/// Every template the generator draws from.
std::span<const Template> instruction_templates();

}  // namespace ferry::x86::test

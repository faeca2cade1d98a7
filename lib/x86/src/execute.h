// The instruction families the emulator carries out, one function per family. Each works on an
// Execution and leaves RIP to the caller.
#pragma once

#include <cstdint>

#include "execution.h"
#include "ferry/x86/emulator.h"

namespace ferry::x86 {

Expected<void> execute_mov(Execution& x);      // MOV (all forms), MOVNTI
Expected<void> execute_extend(Execution& x);   // MOVZX, MOVSX, MOVSXD
Expected<void> execute_xchg(Execution& x);     // XCHG
Expected<void> execute_setcc(Execution& x);    // SETcc
Expected<void> execute_binary(Execution& x);   // ADD ADC SUB SBB AND OR XOR CMP TEST
Expected<void> execute_unary(Execution& x);    // INC DEC NEG NOT
Expected<void> execute_cmpxchg(Execution& x);  // CMPXCHG
Expected<void> execute_bit(Execution& x);      // BT BTS BTR BTC

/// MOVS, STOS, LODS with or without REP. Returns true when the instruction is finished, false
/// when a REP stopped after options.max_rep_iterations with RCX not yet zero (RIP must stay).
Expected<bool> execute_string(Execution& x, const EmulatorOptions& options);

/// MOVD, MOVQ, MOVDQU, MOVDQA, MOVUPS, MOVAPS, MOVUPD, MOVAPD, MOVSS, MOVSD, MOVNT* (SSE)
/// between an XMM register and memory. Needs the FPU state.
Expected<void> execute_sse_move(Execution& x);

}  // namespace ferry::x86

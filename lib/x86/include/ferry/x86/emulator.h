// Emulates the one x86 instruction at RIP whose memory access reached the VMM (an MMIO intercept):
// decodes it with Zydis, performs its memory side through the Platform (RAM or MMIO, after
// segmentation and the page walk), and updates registers, flags and RIP. Supports the
// instructions drivers use on MMIO (docs/x86-emulator.md); anything else is an error naming the
// bytes, never a guess.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "ferry/base/error.h"
#include "ferry/x86/cpu_state.h"
#include "ferry/x86/fault.h"
#include "ferry/x86/page_walker.h"
#include "ferry/x86/platform.h"
#include "ferry/x86/translator.h"

namespace ferry::x86 {

struct Outcome {
  enum class Kind : uint8_t {
    kDone,      // the instruction completed (or a REP made progress; RIP stays until RCX is 0)
    kFault,     // inject `fault`; the state is as before the instruction (REP: minus the
                // iterations that completed)
    kNeedsFpu,  // an SSE move: fill CpuState::fpu and call again; nothing was changed
  };
  Kind kind = Kind::kDone;
  Fault fault;               // kFault only
  uint16_t xmm_written = 0;  // bit i set: CpuState::fpu->xmm[i] was written
  // kDone with RFLAGS.TF set: the backend raises the single-step trap (#DB, DR6.BS) before the
  // guest's next instruction. A REP then does one iteration per call, as the CPU traps after each.
  bool single_step = false;
  uint8_t length = 0;  // the instruction's length in bytes (0 when it could not decode)
};

enum class CpuVendor : uint8_t { kIntel, kAmd };

struct EmulatorOptions {
  // Where vendors differ architecturally visible, behave like this one. Intel: a REP string
  // instruction with 32-bit addressing in 64-bit mode and ECX = 0 still clears the upper halves
  // of RCX (and of RSI/RDI for MOVS, RDI for STOS).
  CpuVendor vendor = CpuVendor::kIntel;
  // REP string instructions stop after this many iterations with RIP unchanged, so a guest's
  // RCX cannot hold the vCPU thread; the guest re-executes the instruction and exits again.
  uint32_t max_rep_iterations = 4096;
  // Keep the last 16 decoded instructions (by RIP slot, checked against mode and bytes).
  bool decode_cache = true;
};

class DecodeCache;

// One per vCPU (it keeps a small decode cache); not for concurrent use.
class Emulator {
 public:
  /// Translates linear addresses with its own PageWalker over `platform`.
  explicit Emulator(Platform& platform, EmulatorOptions options = {});
  /// Translates linear addresses with `translator` (e.g. a hypervisor's translation service).
  Emulator(Platform& platform, Translator& translator, EmulatorOptions options = {});
  ~Emulator();
  Emulator(Emulator&&) noexcept;
  Emulator& operator=(Emulator&&) = delete;

  /// Emulates the instruction at state.regs.rip. `bytes` are its first bytes as the intercept
  /// delivered them (0-16, maybe fewer than the instruction needs: the rest is fetched from
  /// guest memory at CS:RIP). On kDone the registers in `state` are the result. Errors are for
  /// instructions the emulator does not support and for platform failures; they name the bytes.
  Expected<Outcome> emulate(CpuState& state, std::span<const uint8_t> bytes);

 private:
  Translator& translator() { return external_ != nullptr ? *external_ : walker_; }

  Platform& platform_;
  PageWalker walker_;
  Translator* external_ = nullptr;  // the backend's translator, or null for walker_
  EmulatorOptions options_;
  std::unique_ptr<DecodeCache> cache_;  // null when options_.decode_cache is off
};

}  // namespace ferry::x86

// The seam between the MSHV run loop and an x86 instruction emulator (lib/x86).
//
// MSHV reports a guest access to an address that is not RAM as a memory intercept (UNMAPPED_GPA
// or GPA_INTERCEPT) carrying the instruction bytes, and has no completion ioctl: the VMM decodes
// and carries out exactly one instruction itself, then writes the results and the next RIP before
// running the VP again. The run loop validates the message; the emulator does the rest. The
// backend's own emulator is lib/x86 (x86_mmio_emulator.h); tests may put a stand-in here.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "ferry/accel/guest_io.h"
#include "ferry/base/error.h"
#include "ferry/mshv/hv_abi.h"
#include "ferry/mshv/vp_context.h"

namespace ferry::mshv {

// One memory intercept, checked: the byte count is within the message, the access type is known,
// and no event was being delivered.
struct MemoryIntercept {
  uint32_t message_type = 0;  // kHvMessageUnmappedGpa or kHvMessageGpaIntercept
  uint8_t access_type = 0;    // kHvAccessRead / Write / Execute
  uint16_t execution_state = 0;
  HvX64SegmentRegister cs{};
  uint64_t rip = 0;
  uint64_t rflags = 0;
  std::optional<uint64_t> gva;  // of the intercepted access, when the hypervisor reported it
  std::optional<uint64_t> gpa;  // the GVA's guest-physical address, when the hypervisor vouches
                                // for it (gva_gpa_valid); else it must be translated
  std::span<const uint8_t> instruction;  // the message's bytes at RIP, 0 to 16: the instruction
                                         // may continue beyond them (fetch the rest at CS:RIP)
};

class MmioEmulator {
 public:
  virtual ~MmioEmulator() = default;
  /// Carries out the one instruction at intercept.rip: MMIO through `io`, other memory and the
  /// registers (including the new RIP) through `vp`.
  virtual Expected<void> emulate(const MemoryIntercept& intercept, VpContext& vp,
                                 accel::GuestIo& io) noexcept = 0;
};

}  // namespace ferry::mshv

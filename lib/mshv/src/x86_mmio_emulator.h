// lib/x86 behind the MSHV run loop's MMIO seam: for each memory intercept it reads the VP's state
// (from the register page while it is valid, so a plain MOV costs no hypercall), lets lib/x86
// carry out the instruction over the partition's RAM, the VMM's GuestIo and the hypervisor's
// address translation, and writes back the general registers, RIP and RFLAGS (register page
// dirty bits), the XMM registers an SSE move changed, or the exception to inject. One per vCPU.
#pragma once

#include <memory>

#include "ferry/mshv/mmio_emulator.h"
#include "ferry/mshv/mshv_driver.h"
#include "ferry/x86/emulator.h"
#include "hv_translator.h"
#include "intercept_platform.h"

namespace ferry::mshv {

class X86MmioEmulator final : public MmioEmulator {
 public:
  explicit X86MmioEmulator(x86::EmulatorOptions options = {});

  Expected<void> emulate(const MemoryIntercept& intercept, VpContext& vp,
                         accel::GuestIo& io) noexcept override;

 private:
  Expected<void> carry_out(const MemoryIntercept& intercept, VpContext& vp);

  InterceptPlatform platform_;
  HvTranslator translator_;
  x86::Emulator emulator_;  // over platform_ and translator_
};

/// A lib/x86 emulator for one vCPU that behaves like the host's CPU vendor where vendors differ.
std::unique_ptr<MmioEmulator> make_x86_mmio_emulator(MshvDriver& driver);

}  // namespace ferry::mshv

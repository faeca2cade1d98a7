// The guest side of the fake hypervisor: what a VP does when MSHV_RUN_VP dispatches it. Queued
// events come first; then, while the VP is executing, the instruction at RIP is fetched from
// guest memory (through the guest page tables) and turned into the intercept the hypervisor
// would send: IN/OUT/INS/OUTS (with prefixes and REP) become X64_IO_PORT_INTERCEPT built from
// the VP's registers, HLT with interrupts off becomes X64_HALT, and an instruction the test
// annotated as an MMIO access becomes UNMAPPED_GPA or GPA_INTERCEPT. HLT with interrupts on and
// "jmp ." idle the VP. Anything else is beyond the model and fails the test. Before anything, an
// exception the VMM left in HV_REGISTER_PENDING_INTERRUPTION is delivered (checked as VM entry
// checks it, recorded, and the VP idles in the guest's handler) or refused with
// INVALID_VP_REGISTER_VALUE.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "fake_guest_memory.h"
#include "fake_interrupts.h"
#include "fake_vp.h"
#include "ferry/mshv/mshv_abi.h"

namespace ferry::test {

class FakeGuestCpu {
 public:
  FakeGuestCpu(FakeVp& vp, const FakeGuestMemory& memory, FakeInterrupts& interrupts,
               const std::map<uint64_t, FakeMmioAccess>& mmio)
      : vp_(vp), memory_(memory), interrupts_(interrupts), mmio_(mmio) {}

  enum class Result : uint8_t { kMessage, kIdle, kBeyondModel };
  /// One dispatch: fills `out` (kMessage), or says the VP has nothing to report.
  Result step(mshv::MshvRunVp& out, std::string& why);

 private:
  Result deliver_pending(mshv::MshvRunVp& out, std::string& why);
  Result play(const FakeGuestEvent& event, mshv::MshvRunVp& out, bool& consumed);
  Result mmio(const FakeMmioAccess& access, uint64_t linear, mshv::MshvRunVp& out);
  Result execute(mshv::MshvRunVp& out, std::string& why);
  mshv::HvX64InterceptMessageHeader header(uint8_t access, unsigned length) const;
  bool long_mode() const;

  FakeVp& vp_;
  const FakeGuestMemory& memory_;
  FakeInterrupts& interrupts_;
  const std::map<uint64_t, FakeMmioAccess>& mmio_;
};

}  // namespace ferry::test

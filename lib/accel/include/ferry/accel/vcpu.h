// One virtual CPU of a Vm. Owned and driven by exactly one thread; only request_exit() may be
// called from elsewhere (another thread or a signal handler).
#pragma once

#include <cstdint>
#include <span>

#include "ferry/accel/guest_io.h"
#include "ferry/accel/registers.h"
#include "ferry/base/error.h"

namespace ferry::accel {

// Why run() returned. MMIO and PIO are not here: the backend hands them to GuestIo and returns
// kHandled.
enum class ExitKind : uint8_t {
  kHandled,      // an access was served; call run() again
  kHalt,         // HLT with nothing left to wake the vCPU
  kShutdown,     // the guest powered off (or triple-faulted on a backend that says so)
  kReset,        // the guest asked for a reset
  kIoapicEoi,    // the guest ended a level-triggered IOAPIC interrupt (Exit::vector)
  kInterrupted,  // request_exit() or a signal ended the run
};

struct Exit {
  ExitKind kind = ExitKind::kHandled;
  uint8_t vector = 0;  // kIoapicEoi only
};

enum class MpState : uint8_t {
  kRunnable,     // starts executing at its registers on the first run()
  kWaitForSipi,  // an application processor parked until INIT/SIPI
};

class Vcpu {
 public:
  virtual ~Vcpu() = default;

  /// The index the Vm created this vCPU with (also its initial APIC ID).
  virtual unsigned index() const = 0;

  virtual Expected<Regs> get_regs() = 0;
  virtual Expected<void> set_regs(const Regs& regs) = 0;
  virtual Expected<SpecialRegs> get_special_regs() = 0;
  virtual Expected<void> set_special_regs(const SpecialRegs& sregs) = 0;
  virtual Expected<FpuState> get_fpu() = 0;
  virtual Expected<void> set_fpu(const FpuState& fpu) = 0;
  /// Replaces the CPUID table the guest sees on this vCPU.
  virtual Expected<void> set_cpuid(std::span<const CpuidEntry> entries) = 0;
  virtual Expected<void> set_mp_state(MpState state) = 0;

  /// Runs the guest until an exit that needs the VMM. Errors (failed entry, internal errors,
  /// unrecoverable guest state) carry a register dump.
  virtual Expected<Exit> run(GuestIo& io) noexcept = 0;
  /// Finishes the instruction behind the last kHandled exit without running the guest on, so
  /// registers read or written next are those after it; accesses it still needs go to `io`.
  virtual Expected<void> complete_pending_io(GuestIo& io) noexcept = 0;
  /// Makes the current or next run() return kInterrupted soon. Async-signal-safe; pair it with a
  /// signal to the vCPU thread to cut a run short that is already in the guest.
  virtual void request_exit() noexcept = 0;
};

}  // namespace ferry::accel

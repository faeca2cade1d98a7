// The backends the conformance tests run on: real KVM (/dev/kvm) and MSHV on the fake driver.
// What the two share must behave the same, so a test written once runs on both.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ferry/accel/hypervisor.h"
#include "ferry/vmm/guest_memory.h"
#include "ferry/vmm/payload.h"
#include "support/recording_guest_io.h"

namespace ferry::test {

class ConformanceBackend {
 public:
  virtual ~ConformanceBackend() = default;
  /// "kvm" or "mshv".
  static std::unique_ptr<ConformanceBackend> make(const std::string& name);

  virtual Expected<std::unique_ptr<accel::Hypervisor>> open() = 0;
  /// Called once vCPU 0 of the VM is set up and about to run (the fake starts executing then).
  virtual void start_guest() {}
};

// A few instructions that end at a sentinel OUT to port kSentinelPort, with the registers and
// memory they start from.
struct ConformanceProgram {
  std::string name;
  vmm::BootMode mode = vmm::BootMode::kLong;
  std::vector<uint8_t> code;  // the sentinel is appended
  std::function<void(accel::Regs&)> regs = [](accel::Regs&) {};
  std::optional<uint64_t> fs_base;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> memory;
  uint64_t watch = 0;  // guest memory to report after the run
  size_t watch_length = 0;
};

constexpr uint16_t kSentinelPort = 0xf5;
constexpr uint64_t kProgramEntry = 0x10000;

struct ConformanceRun {
  std::vector<IoAccess> accesses;  // without the sentinel
  // As the device at the sentinel port saw them, except RIP (always 0 here): when an OUT moves
  // RIP differs between KVMs (VMX on the next entry, PVM before the exit). Reaching the sentinel
  // with exactly the expected traffic is what shows RIP moved right.
  accel::Regs regs;
  std::vector<uint8_t> watched;
};

/// Runs `program` on vCPU 0 of a fresh VM of `backend`.
Expected<ConformanceRun> run_program(ConformanceBackend& backend,
                                     const ConformanceProgram& program);

}  // namespace ferry::test

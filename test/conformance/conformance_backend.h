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

struct ConformanceProgram;

class ConformanceBackend {
 public:
  virtual ~ConformanceBackend() = default;
  /// "kvm" or "mshv".
  static std::unique_ptr<ConformanceBackend> make(const std::string& name);

  virtual Expected<std::unique_ptr<accel::Hypervisor>> open() = 0;
  /// Called once vCPU 0 of the VM is set up and about to run `program` (the fake starts executing
  /// then, knowing where its MMIO instructions point).
  virtual void start_guest(const ConformanceProgram& program) { (void)program; }
};

// An MMIO instruction of a program, for the fake hypervisor, which cannot decode operands: where
// it is and the access the hypervisor intercepts (KVM needs none of it).
struct MmioSite {
  size_t offset = 0;  // from the entry point
  uint64_t gva = 0;
  bool write = false;
  bool gpa_valid = true;            // the message vouches for the GPA (else it is translated)
  unsigned instruction_bytes = 16;  // how many of the instruction's bytes the message carries
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
  std::vector<MmioSite> mmio;
};

constexpr uint16_t kSentinelPort = 0xf5;
constexpr uint64_t kProgramEntry = 0x10000;
constexpr uint64_t kProgramMemorySize = 4 * 1024 * 1024;  // RAM from 0; MMIO beyond

struct ConformanceRun {
  // Without the sentinel. An MMIO access wider than 8 bytes (an SSE move; MSHV's emulator makes it
  // one access) is split into 8-byte halves, as KVM reports it in two exits.
  std::vector<IoAccess> accesses;
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

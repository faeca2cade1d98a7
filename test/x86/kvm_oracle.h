// The reference side of the differential test: one instruction run by real KVM in a small VM
// whose unmapped guest-physical ranges are MMIO, so KVM's in-kernel emulator handles exactly the
// accesses that reach MMIO and the CPU does the rest.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "fake_platform.h"
#include "ferry/accel/hypervisor.h"
#include "ferry/base/mapping.h"
#include "ferry/x86/emulator.h"

namespace ferry::x86::test {

// Guest-physical layout of the oracle VM: RAM is [0, kOracleRamSize) less the legacy hole
// [0xa0000, 0xc0000); everything else (the hole, and 0xe0000000 up) is MMIO. The exception
// handlers and their descriptor tables live in [0, 0x8000), which variants identity-map.
constexpr uint64_t kOracleRamSize = 16ull << 20;

struct OracleResult {
  // kFault: an exception. The handlers of every mode report the vector (and the error code); a
  // fault without a vector is a shutdown, which means the exception could not be delivered.
  enum class End : uint8_t { kCompleted, kFault, kTimeout };
  End end = End::kCompleted;
  accel::Regs regs;
  std::optional<uint8_t> vector;  // kFault, when a handler reported it
  // Vector 1, the single-step trap (RFLAGS.TF): the registers as the instruction under test
  // left them, read back from the exception frame (or, after a task switch, the variant's TSS).
  std::optional<accel::Regs> trapped_regs;
  std::optional<uint32_t> error_code;  // ...and the error code it was pushed
  uint64_t cr2 = 0;                    // kFault: CR2 after the exception
  accel::FpuState fpu;
  std::vector<MmioAccess> mmio;
};

class KvmOracle {
 public:
  static Expected<std::unique_ptr<KvmOracle>> create();

  /// Guest RAM, indexed by guest-physical address.
  std::span<uint8_t> ram() { return {memory_.data(), memory_.size()}; }
  /// The special registers KVM gives a new vCPU (a template for the variants).
  const accel::SpecialRegs& initial_sregs() const { return initial_sregs_; }
  /// The CPU vendor the guest's CPUID names: KVM's emulator follows it where vendors differ.
  CpuVendor vendor() const { return vendor_; }

  /// Writes `code` followed by "out 0x80, al" at guest-physical `code_gpa` (which run does too).
  Expected<void> place_code(std::span<const uint8_t> code, uint64_t code_gpa);
  /// Places the code, loads the state and runs until that OUT (or a shutdown, or `max_exits`).
  /// The returned RIP is the one after the instruction under test, i.e. before the OUT.
  Expected<OracleResult> run(std::span<const uint8_t> code, uint64_t code_gpa,
                             const accel::Regs& regs, const accel::SpecialRegs& sregs,
                             const std::optional<accel::FpuState>& fpu, unsigned max_exits = 64);

 private:
  KvmOracle() = default;

  std::unique_ptr<accel::Hypervisor> hypervisor_;
  std::unique_ptr<accel::Vm> vm_;
  std::unique_ptr<accel::Vcpu> vcpu_;
  Mapping memory_;
  accel::SpecialRegs initial_sregs_;
  CpuVendor vendor_ = CpuVendor::kIntel;
};

/// Splits accesses longer than 8 bytes into 8-byte pieces, as KVM delivers them.
std::vector<MmioAccess> in_kvm_pieces(std::span<const MmioAccess> accesses);

}  // namespace ferry::x86::test

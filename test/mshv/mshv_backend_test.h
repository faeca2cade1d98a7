// The fixture of the MSHV backend's tests: MshvHypervisor over the fake driver, and helpers to
// give the VM guest RAM, boot tables and a vCPU at an entry point with code there.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fake_mshv_driver.h"
#include "ferry/accel/hypervisor.h"
#include "ferry/mshv/mshv_hypervisor.h"
#include "ferry/vmm/guest_memory.h"
#include "ferry/vmm/payload.h"
#include "ferry/vmm/vm_config.h"
#include "support/recording_guest_io.h"

namespace ferry::test {

// A small but plausible host CPUID: VMX present (a partition cannot offer it), leaf 7 with one
// extra subleaf, two topology levels, 1 GiB pages.
FakeMshvOptions fake_options_with_host_cpuid();

/// The spec of the Machine tests on the fake: 16 MiB, the built-in hello (whose code they
/// replace: the fake cannot run C), serial output to `serial_path`.
vmm::VmConfig fake_machine_config(const std::string& serial_path);

/// Replaces the code at vCPU 0's entry point with a guest that prints "hi\n" to COM1 with
/// REP OUTSB, then leaves through the exit port with status 7, and sets the registers it uses.
Expected<void> load_outsb_exit_guest(FakeMshvDriver& fake, const vmm::GuestMemory& memory);

class MshvBackendTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kEntry = 0x10000;
  static constexpr uint64_t kMemorySize = 4 * 1024 * 1024;

  explicit MshvBackendTest(FakeMshvOptions options = fake_options_with_host_cpuid())
      : fake_(std::move(options)) {}

  /// Opens the hypervisor and creates the VM (1 vCPU).
  void create_vm(mshv::MshvOptions options = {});
  /// create_vm() when needed, then RAM, the boot tables of `mode`, `code` at kEntry and vCPU 0
  /// there; the guest executes from the first run.
  void boot(vmm::BootMode mode, std::span<const uint8_t> code);
  /// boot(), then sets the registers the test wants on top of the entry state.
  void start(vmm::BootMode mode, const std::vector<uint8_t>& code,
             const std::function<void(accel::Regs&)>& adjust);
  /// vCPU 0's general registers.
  accel::Regs regs();
  /// Runs vCPU 0 until it stops with something other than kHandled (at most `limit` runs).
  accel::Exit run_until_stop(accel::GuestIo& io, unsigned limit = 100);
  void write(uint64_t gpa, std::span<const uint8_t> bytes);
  std::vector<uint8_t> read(uint64_t gpa, size_t length);

  FakeMshvDriver fake_;
  std::unique_ptr<accel::Hypervisor> hypervisor_;
  std::unique_ptr<accel::Vm> vm_;
  std::optional<vmm::GuestMemory> memory_;
  std::unique_ptr<accel::Vcpu> vcpu_;
};

}  // namespace ferry::test

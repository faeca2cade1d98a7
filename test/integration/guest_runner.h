// Runs a VM in-process on real KVM for integration tests, with a watchdog so that a lost
// interrupt fails the test instead of hanging CI.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "ferry/accel/hypervisor.h"
#include "ferry/vmm/machine.h"
#include "ferry/vmm/vm_config.h"
#include "support/temp_dir.h"

namespace ferry::test {

struct GuestResult {
  vmm::Outcome outcome;
  std::string serial;  // everything the guest wrote to COM1
  vmm::MachineStats stats;
  bool timed_out = false;
};

// A VmConfig for a built-in guest whose serial output goes to a file in `dir`.
vmm::VmConfig builtin_config(const std::string& name, const TempDir& dir, unsigned vcpus = 1);

// Creates, starts and waits for the machine; stops it after `timeout`.
Expected<GuestResult> run_guest(accel::Hypervisor& hypervisor, const vmm::VmConfig& config,
                                const TempDir& dir,
                                std::chrono::milliseconds timeout = std::chrono::seconds(60));

// The KVM accelerator; tests call FERRY_REQUIRE_KVM() before this.
std::unique_ptr<accel::Hypervisor> open_kvm();

}  // namespace ferry::test

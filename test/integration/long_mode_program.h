// A bare KVM VM for lib/kvm tests: 4 MiB of RAM with ferry's long-mode boot tables, a program at
// 1 MiB, and one vCPU about to run it with the host's supported CPUID.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "ferry/accel/hypervisor.h"
#include "ferry/base/error.h"
#include "ferry/vmm/guest_memory.h"

namespace ferry::test {

struct LongModeProgram {
  static constexpr uint64_t kLoadAddress = 0x100000;

  // Destroyed from the bottom up: the vCPU and the VM before the memory they use.
  std::unique_ptr<accel::Hypervisor> hypervisor;
  vmm::GuestMemory memory;
  std::unique_ptr<accel::Vm> vm;
  std::unique_ptr<accel::Vcpu> vcpu;
};

Expected<LongModeProgram> load_long_mode_program(std::span<const uint8_t> program);

}  // namespace ferry::test

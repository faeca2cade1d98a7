#include "long_mode_program.h"

#include <vector>

#include "ferry/base/units.h"
#include "ferry/kvm/kvm_hypervisor.h"
#include "ferry/vmm/boot_state.h"

namespace ferry::test {

Expected<LongModeProgram> load_long_mode_program(std::span<const uint8_t> program) {
  FERRY_ASSIGN(std::unique_ptr<accel::Hypervisor> hypervisor, kvm::KvmHypervisor::open());
  FERRY_ASSIGN(vmm::GuestMemory memory, vmm::GuestMemory::allocate(4 * kMiB));
  FERRY_ASSIGN(std::unique_ptr<accel::Vm> vm, hypervisor->create_vm({}));
  FERRY_TRY(memory.map_into(*vm));
  FERRY_TRY(vmm::write_boot_tables(memory, vmm::BootMode::kLong, false));
  FERRY_TRY(memory.write(LongModeProgram::kLoadAddress, program));
  FERRY_ASSIGN(std::unique_ptr<accel::Vcpu> vcpu, vm->create_vcpu(0));
  FERRY_ASSIGN(const std::vector<accel::CpuidEntry> cpuid, hypervisor->supported_cpuid());
  FERRY_TRY(vcpu->set_cpuid(cpuid));
  FERRY_TRY(vmm::set_entry_state(*vcpu, vmm::BootMode::kLong, LongModeProgram::kLoadAddress, 0, 1));
  return LongModeProgram{std::move(hypervisor), std::move(memory), std::move(vm), std::move(vcpu)};
}

}  // namespace ferry::test

// An MSHV partition as an accel::Vm: creation and initialization, vCPUs, and the accel calls,
// which it hands to the shared MshvPartition.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "ferry/accel/vm.h"
#include "ferry/mshv/mshv_driver.h"
#include "ferry/mshv/mshv_hypervisor.h"
#include "mshv_partition.h"

namespace ferry::mshv {

// Synthetic (Hyper-V enlightenment) features a ferry partition offers: the hypervisor's CPUID
// leaves, VP index, hypercall page and the reference counter, TSC page and frequency MSRs.
constexpr uint64_t kDefaultSyntheticFeatures =
    kSynHypervisorPresent | kSynHv1 | kSynAccessPartitionReferenceCounter |
    kSynAccessHypercallRegs | kSynAccessVpIndex | kSynAccessPartitionReferenceTsc |
    kSynAccessFrequencyRegs;

class MshvVm final : public accel::Vm {
 public:
  /// Creates the partition (LAPIC, x2APIC, GPA super pages), sets its synthetic processor
  /// features, initializes it, makes unimplemented MSRs read 0 and ignore writes, and freezes its
  /// clock until the first vCPU runs.
  static Expected<std::unique_ptr<MshvVm>> create(MshvDriver& driver, int mshv_fd,
                                                  const MshvOptions& options, unsigned max_vcpus);

  Expected<std::unique_ptr<accel::Vcpu>> create_vcpu(unsigned index) override;
  Expected<void> map_memory(uint64_t gpa, uint64_t size, void* host, bool writable) override;
  Expected<void> map_device_memory(uint64_t gpa, uint64_t size, void* host) override;
  Expected<void> unmap_memory(uint64_t gpa, uint64_t size) override;
  Expected<void> set_msi_routes(std::span<const accel::MsiRoute> routes) override;
  Expected<void> register_irqfd(int eventfd, uint32_t gsi, std::optional<int> resample_fd) override;
  Expected<void> unregister_irqfd(int eventfd, uint32_t gsi) override;
  accel::IrqfdPairing irqfd_pairing() const override { return accel::IrqfdPairing::kAtAssign; }
  Expected<void> register_ioeventfd(const accel::IoEventFd& event) override;
  Expected<void> unregister_ioeventfd(const accel::IoEventFd& event) override;
  /// MSHV_CREATE_DEVICE (not upstream); kUnsupported when the kernel lacks it.
  Expected<std::unique_ptr<accel::VfioBridge>> create_vfio_bridge() override;

 private:
  MshvVm(std::shared_ptr<MshvPartition> partition, std::shared_ptr<MmioEmulator> emulator,
         unsigned max_vcpus)
      : partition_(std::move(partition)),
        emulator_(std::move(emulator)),
        vcpu_created_(max_vcpus, false) {}

  std::shared_ptr<MshvPartition> partition_;
  std::shared_ptr<MmioEmulator> emulator_;
  std::mutex mutex_;  // guards vcpu_created_; a leaf
  std::vector<bool> vcpu_created_;
};

}  // namespace ferry::mshv

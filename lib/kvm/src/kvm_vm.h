// A KVM virtual machine with a split irqchip: local APICs in the kernel, the IOAPIC in the VMM.
#pragma once

#include <linux/kvm.h>

#include <memory>
#include <mutex>
#include <vector>

#include "ferry/accel/vm.h"
#include "ferry/base/unique_fd.h"
#include "ferry/kvm/kvm_sys.h"

namespace ferry::kvm {

// Where KVM keeps its private pages on Intel; both sit in the 3-4 GiB hole, outside RAM and
// the guest's device windows (docs/memory-map.md).
constexpr uint64_t kKvmTssAddress = 0xfffbd000;          // 3 pages
constexpr uint64_t kKvmIdentityMapAddress = 0xfeffc000;  // 1 page
constexpr uint32_t kIoapicPins = 24;  // GSIs whose level-triggered EOIs KVM reports to the VMM

class KvmVm final : public accel::Vm {
 public:
  static Expected<std::unique_ptr<KvmVm>> create(KvmSys& sys, int kvm_fd, size_t vcpu_mmap_size,
                                                 unsigned max_vcpus, unsigned max_routes);

  Expected<std::unique_ptr<accel::Vcpu>> create_vcpu(unsigned index) override;
  Expected<void> map_memory(uint64_t gpa, uint64_t size, void* host, bool writable) override;
  /// KVM needs nothing more: its instruction emulator never touches a memory slot.
  Expected<void> map_device_memory(uint64_t gpa, uint64_t size, void* host) override {
    return map_memory(gpa, size, host, true);
  }
  Expected<void> unmap_memory(uint64_t gpa, uint64_t size) override;
  Expected<void> set_msi_routes(std::span<const accel::MsiRoute> routes) override;
  Expected<void> register_irqfd(int eventfd, uint32_t gsi, std::optional<int> resample_fd) override;
  Expected<void> unregister_irqfd(int eventfd, uint32_t gsi) override;
  accel::IrqfdPairing irqfd_pairing() const override { return accel::IrqfdPairing::kWhenBothExist; }
  Expected<void> register_ioeventfd(const accel::IoEventFd& event) override;
  Expected<void> unregister_ioeventfd(const accel::IoEventFd& event) override;
  Expected<std::unique_ptr<accel::VfioBridge>> create_vfio_bridge() override;

 private:
  struct Slot {
    uint32_t id;
    uint64_t gpa;
    uint64_t size;
  };

  KvmVm(KvmSys& sys, UniqueFd fd, size_t vcpu_mmap_size, unsigned max_vcpus, unsigned max_routes)
      : sys_(sys),
        fd_(std::move(fd)),
        vcpu_mmap_size_(vcpu_mmap_size),
        max_routes_(max_routes),
        vcpu_created_(max_vcpus, false) {}
  Expected<void> set_up_platform();
  Expected<void> ioeventfd(const accel::IoEventFd& event, bool deassign);
  uint32_t allocate_slot_id() const;

  KvmSys& sys_;
  UniqueFd fd_;
  size_t vcpu_mmap_size_;
  unsigned max_routes_;
  std::mutex mutex_;  // guards slots_ and vcpu_created_; never held across a vCPU run
  std::vector<Slot> slots_;
  std::vector<bool> vcpu_created_;
};

}  // namespace ferry::kvm

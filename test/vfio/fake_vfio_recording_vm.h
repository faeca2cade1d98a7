// An accel::Vm with KVM's irqfd pairing (kWhenBothExist) that writes what lib/vfio and lib/irq
// ask of it to a FakeJournal, and keeps the VFIO bridge's groups as KVM's VFIO device would:
// adding one twice is EEXIST, deleting one not added ENOENT.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <set>

#include "fake_vfio_guest.h"
#include "ferry/accel/vfio_bridge.h"
#include "ferry/accel/vm.h"

namespace ferry::test {

class RecordingVm final : public accel::Vm {
 public:
  explicit RecordingVm(FakeJournal& journal) : journal_(journal) {}

  Expected<std::unique_ptr<accel::Vcpu>> create_vcpu(unsigned) override {
    return fail(Errc::kUnsupported, "no vCPUs here");
  }
  Expected<void> map_memory(uint64_t gpa, uint64_t size, void* host, bool) override {
    journal_.add(fmt::format("KVM map gpa {:#x}+{:#x}", gpa, size));
    mapped_.insert(host);
    return {};
  }
  Expected<void> map_device_memory(uint64_t gpa, uint64_t size, void* host) override {
    journal_.add(fmt::format("KVM map device memory gpa {:#x}+{:#x}", gpa, size));
    mapped_.insert(host);
    return {};
  }
  Expected<void> unmap_memory(uint64_t gpa, uint64_t size) override {
    journal_.add(fmt::format("KVM unmap gpa {:#x}+{:#x}", gpa, size));
    return {};
  }
  Expected<void> set_msi_routes(std::span<const accel::MsiRoute> routes) override {
    journal_.add(fmt::format("KVM SET_GSI_ROUTING {} routes", routes.size()));
    return {};
  }
  Expected<void> register_irqfd(int, uint32_t gsi, std::optional<int>) override {
    journal_.add(fmt::format("KVM IRQFD assign gsi {}", gsi));
    return {};
  }
  Expected<void> unregister_irqfd(int, uint32_t gsi) override {
    journal_.add(fmt::format("KVM IRQFD deassign gsi {}", gsi));
    return {};
  }
  accel::IrqfdPairing irqfd_pairing() const override { return accel::IrqfdPairing::kWhenBothExist; }
  Expected<void> register_ioeventfd(const accel::IoEventFd&) override { return {}; }
  Expected<void> unregister_ioeventfd(const accel::IoEventFd&) override { return {}; }
  Expected<std::unique_ptr<accel::VfioBridge>> create_vfio_bridge() override {
    journal_.add("KVM CREATE_DEVICE vfio");
    return std::unique_ptr<accel::VfioBridge>(std::make_unique<Bridge>(*this));
  }

  /// The group fds on the bridge now.
  const std::set<int>& bridged() const { return bridged_; }
  bool mapped(const void* host) const { return mapped_.count(host) != 0; }

 private:
  class Bridge final : public accel::VfioBridge {
   public:
    explicit Bridge(RecordingVm& vm) : vm_(vm) {}
    Expected<void> add_group(int fd) override {
      if (!vm_.bridged_.insert(fd).second) return fail_errno(EEXIST, "KVM_DEV_VFIO_FILE_ADD");
      vm_.journal_.add("KVM VFIO FILE_ADD");
      return {};
    }
    Expected<void> remove_group(int fd) override {
      if (vm_.bridged_.erase(fd) == 0) return fail_errno(ENOENT, "KVM_DEV_VFIO_FILE_DEL");
      vm_.journal_.add("KVM VFIO FILE_DEL");
      return {};
    }

   private:
    RecordingVm& vm_;
  };

  FakeJournal& journal_;
  std::set<int> bridged_;
  std::set<const void*> mapped_;
};

}  // namespace ferry::test

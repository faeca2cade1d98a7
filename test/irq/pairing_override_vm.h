// A Vm that forwards everything to another but claims a different irqfd pairing, so lib/irq
// emits the other accelerator's order on this one (the KVM-tolerates-both and QEMU's-order-on-
// MSHV tests).
#pragma once

#include "ferry/accel/vm.h"

namespace ferry::test {

class PairingOverrideVm : public accel::Vm {
 public:
  PairingOverrideVm(accel::Vm& inner, accel::IrqfdPairing claimed)
      : inner_(inner), claimed_(claimed) {}
  Expected<std::unique_ptr<accel::Vcpu>> create_vcpu(unsigned i) override {
    return inner_.create_vcpu(i);
  }
  Expected<void> map_memory(uint64_t g, uint64_t s, void* h, bool w) override {
    return inner_.map_memory(g, s, h, w);
  }
  Expected<void> map_device_memory(uint64_t g, uint64_t s, void* h) override {
    return inner_.map_device_memory(g, s, h);
  }
  Expected<void> unmap_memory(uint64_t g, uint64_t s) override { return inner_.unmap_memory(g, s); }
  Expected<void> set_msi_routes(std::span<const accel::MsiRoute> r) override {
    return inner_.set_msi_routes(r);
  }
  Expected<void> register_irqfd(int fd, uint32_t gsi, std::optional<int> resample) override {
    return inner_.register_irqfd(fd, gsi, resample);
  }
  Expected<void> unregister_irqfd(int fd, uint32_t gsi) override {
    return inner_.unregister_irqfd(fd, gsi);
  }
  accel::IrqfdPairing irqfd_pairing() const override { return claimed_; }
  Expected<void> register_ioeventfd(const accel::IoEventFd& e) override {
    return inner_.register_ioeventfd(e);
  }
  Expected<void> unregister_ioeventfd(const accel::IoEventFd& e) override {
    return inner_.unregister_ioeventfd(e);
  }
  Expected<std::unique_ptr<accel::VfioBridge>> create_vfio_bridge() override {
    return inner_.create_vfio_bridge();
  }

 private:
  accel::Vm& inner_;
  accel::IrqfdPairing claimed_;
};

}  // namespace ferry::test

// The GuestIo a vCPU's intercepts go through: the IOAPIC's page to the backend's IOAPIC (on KVM
// it lives in the kernel, so the VMM never sees it there either), everything else to the VMM.
#pragma once

#include "ferry/accel/guest_io.h"
#include "mshv_ioapic.h"

namespace ferry::mshv {

class IoapicGuestIo final : public accel::GuestIo {
 public:
  IoapicGuestIo(MshvIoapic& ioapic, accel::GuestIo& vmm) : ioapic_(ioapic), vmm_(vmm) {}

  void mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept override {
    if (MshvIoapic::contains(gpa)) return ioapic_.mmio_read(gpa, data);
    vmm_.mmio_read(gpa, data);
  }
  void mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept override {
    if (MshvIoapic::contains(gpa)) return ioapic_.mmio_write(gpa, data);
    vmm_.mmio_write(gpa, data);
  }
  void pio_read(uint16_t port, std::span<uint8_t> data) noexcept override {
    vmm_.pio_read(port, data);
  }
  void pio_write(uint16_t port, std::span<const uint8_t> data) noexcept override {
    vmm_.pio_write(port, data);
  }

 private:
  MshvIoapic& ioapic_;
  accel::GuestIo& vmm_;
};

}  // namespace ferry::mshv

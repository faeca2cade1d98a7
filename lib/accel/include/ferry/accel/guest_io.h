// What a backend calls when the guest touches an address nothing in the hypervisor handles.
// On KVM the run loop fills it from kvm_run; on MSHV the instruction emulator calls it. The VMM's
// buses implement it, so MMIO and PIO never reach the VMM's exit switch.
#pragma once

#include <cstdint>
#include <span>

namespace ferry::accel {

class GuestIo {
 public:
  virtual ~GuestIo() = default;
  /// Fills data (1-8 bytes, or 16 for SSE moves) from guest-physical MMIO address gpa.
  virtual void mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept = 0;
  /// Stores data at guest-physical MMIO address gpa.
  virtual void mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept = 0;
  /// Fills data (1, 2 or 4 bytes) from I/O port.
  virtual void pio_read(uint16_t port, std::span<uint8_t> data) noexcept = 0;
  /// Writes data (1, 2 or 4 bytes) to I/O port.
  virtual void pio_write(uint16_t port, std::span<const uint8_t> data) noexcept = 0;
};

}  // namespace ferry::accel

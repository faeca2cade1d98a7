// The VMM side of accel::GuestIo: dispatches guest MMIO and port accesses to the two buses and
// counts them. One per vCPU, used only by its thread (the bus readers and counters rely on it).
#pragma once

#include <atomic>
#include <cstdint>

#include "ferry/accel/guest_io.h"
#include "ferry/bus/bus.h"

namespace ferry::vmm {

struct IoCounts {
  uint64_t mmio = 0;
  uint64_t pio = 0;
  uint64_t unclaimed = 0;
};

class BusIo final : public accel::GuestIo {
 public:
  BusIo(const bus::Bus& mmio, const bus::Bus& pio) : mmio_(mmio), pio_(pio) {}

  void mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept override;
  void mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept override;
  void pio_read(uint16_t port, std::span<uint8_t> data) noexcept override;
  void pio_write(uint16_t port, std::span<const uint8_t> data) noexcept override;

  IoCounts counts() const;

 private:
  void count(std::atomic<uint64_t>& counter, bool claimed) noexcept;

  bus::Bus::Reader mmio_;
  bus::Bus::Reader pio_;
  // Relaxed counters: one BusIo per vCPU keeps them uncontended.
  std::atomic<uint64_t> mmio_count_{0}, pio_count_{0}, unclaimed_count_{0};
};

}  // namespace ferry::vmm

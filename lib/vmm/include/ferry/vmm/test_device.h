// The ferry test device (guests/include/ferry/guests/testdev.h): an MMIO register block that
// test guests read and write at every width, and an MSI source wired through the VM's MSI
// routing table and an irqfd, so guests can prove the interrupt path end to end.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "ferry/accel/vm.h"
#include "ferry/base/event_fd.h"
#include "ferry/bus/bus_device.h"
#include "ferry/irq/msi_route_table.h"

namespace ferry::vmm {

class TestDevice final : public bus::RegisterDevice<TestDevice> {
 public:
  /// Reserves a GSI and an eventfd for the device's MSI.
  static Expected<std::shared_ptr<TestDevice>> create(accel::Vm& vm, irq::MsiRouteTable& routes);
  ~TestDevice() override;

  uint64_t read_register(uint64_t offset, unsigned size);
  void write_register(uint64_t offset, unsigned size, uint64_t value);

 private:
  TestDevice(accel::Vm& vm, irq::MsiRouteTable& routes, uint32_t gsi, EventFd trigger)
      : vm_(vm), routes_(routes), gsi_(gsi), trigger_(std::move(trigger)) {}
  // Commits the programmed route, wires the irqfd on first use, and signals it.
  void send_msi();

  accel::Vm& vm_;
  irq::MsiRouteTable& routes_;
  const uint32_t gsi_;
  EventFd trigger_;
  std::mutex mutex_;  // guards the registers below
  std::array<uint8_t, 0x100> scratch_{};
  uint32_t accesses_ = 0;
  uint32_t msi_address_lo_ = 0, msi_address_hi_ = 0, msi_data_ = 0;
  uint32_t msi_sent_ = 0;
  bool irqfd_registered_ = false;
};

}  // namespace ferry::vmm

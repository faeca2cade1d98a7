// The ferry test device (guests/include/ferry/guests/testdev.h): an MMIO register block that
// test guests read and write at every width, and an MSI source (one irq::MsiVector), so guests
// can prove the interrupt path end to end.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "ferry/bus/bus_device.h"
#include "ferry/irq/msi_route_table.h"
#include "ferry/irq/msi_vector.h"

namespace ferry::vmm {

class TestDevice final : public bus::RegisterDevice<TestDevice> {
 public:
  /// The device's MSI vector goes live at its first doorbell.
  static Expected<std::shared_ptr<TestDevice>> create(irq::MsiRouteTable& routes);
  ~TestDevice() override = default;  // msi_ tears its vector down

  uint64_t read_register(uint64_t offset, unsigned size);
  void write_register(uint64_t offset, unsigned size, uint64_t value);

 private:
  explicit TestDevice(irq::MsiRouteTable& routes) : routes_(routes), msi_(routes) {}
  // Takes the programmed message live (retargeting it if it changed) and signals it.
  void send_msi();

  irq::MsiRouteTable& routes_;
  std::mutex mutex_;  // guards msi_ and the registers below
  irq::MsiVector msi_;
  std::array<uint8_t, 0x100> scratch_{};
  uint32_t accesses_ = 0;
  uint32_t msi_address_lo_ = 0, msi_address_hi_ = 0, msi_data_ = 0;
};

}  // namespace ferry::vmm

// The PCI test device (guests/include/ferry/guests/pcitest.h): a function with a 32-bit memory
// BAR and an I/O BAR onto the same small register block, a 64-bit memory BAR holding an MSI-X
// table and PBA, an expansion ROM, and MSI-X and PCI Express capabilities. A doorbell register
// raises any vector, so test guests can exercise the PCI and interrupt paths without hardware.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "ferry/accel/vm.h"
#include "ferry/irq/msi_route_table.h"
#include "ferry/pci/endpoint.h"
#include "ferry/pci/msix_table.h"

namespace ferry::pci {

class PciTestDevice final : public Endpoint {
 public:
  static Expected<std::shared_ptr<PciTestDevice>> create(BarSpaces spaces,
                                                         irq::MsiRouteTable& routes);

 protected:
  void bar_read(unsigned index, uint64_t offset, std::span<uint8_t> data) noexcept override;
  void bar_write(unsigned index, uint64_t offset, std::span<const uint8_t> data) noexcept override;
  void config_written(uint16_t offset, unsigned size) override;

 private:
  PciTestDevice(BarSpaces spaces, irq::MsiRouteTable& routes);
  Expected<void> set_up();

  uint64_t read_register(uint64_t offset, unsigned size);
  void write_register(uint64_t offset, unsigned size, uint32_t value);
  uint64_t read_msix(uint64_t offset, unsigned size);
  void write_msix(uint64_t offset, unsigned size, uint64_t value);
  void ring(uint32_t vector);

  MsixTable msix_;
  uint16_t msix_capability_ = 0;
  std::atomic<uint32_t> scratch_{0};
  std::atomic<uint32_t> dropped_{0};
};

}  // namespace ferry::pci

// A PCI Express root port: a type-1 function on bus 0 with one device below it, alone on its
// secondary bus the way a card sits alone in a slot. ferry plays firmware: it numbers the
// secondary bus and opens the windows over the device's BARs. Configuration accesses follow the
// bus numbers the guest programs, and Secondary Bus Reset resets the device below it alone.
//
// The windows are registers only: the device's BARs decode wherever the host bridge's windows
// allow, as on bus 0, so a guest that narrows a window still reaches its device (and still cannot
// reach anything outside the host bridge's windows).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "ferry/pci/address_window.h"
#include "ferry/pci/config_space.h"
#include "ferry/pci/pci_function.h"

namespace ferry::pci {

// What a bridge forwards to its secondary bus; an empty window is closed (base above limit).
struct PortWindows {
  AddressWindow io;            // 4 KiB granules, below 64 KiB
  AddressWindow memory;        // 1 MiB granules, below 4 GiB, non-prefetchable
  AddressWindow prefetchable;  // 1 MiB granules, 64-bit
};

class RootPort final : public PciFunction {
 public:
  /// The port numbered `port_number` (its link's Port Number) with secondary and subordinate
  /// bus `bus` and `windows` open, and `device` as device 0, function 0 below it.
  RootPort(uint8_t port_number, uint8_t bus, const PortWindows& windows,
           std::shared_ptr<PciFunction> device);

  uint32_t config_read(uint16_t offset, unsigned size) override;
  void config_write(uint16_t offset, unsigned size, uint32_t value) override;

  /// The function at `slot`.`function` of bus `bus` below this port, if the guest's bus numbers
  /// route `bus` here: the device is at slot 0, function 0 of the secondary bus, and there is
  /// nothing else.
  PciFunction* downstream(unsigned bus, unsigned slot, unsigned function) const;
  /// Whether the guest's bus numbers route `bus` through this port (secondary to subordinate).
  bool routes(unsigned bus) const;
  /// The function below, for firmware (ferry) to read.
  PciFunction& device() const { return *device_; }

 private:
  void set_windows(const PortWindows& windows);

  std::mutex mutex_;  // guards config_
  ConfigSpace config_;
  const std::shared_ptr<PciFunction> device_;
  std::atomic<uint8_t> secondary_{0};  // copies of the registers, for lock-free routing
  std::atomic<uint8_t> subordinate_{0};
};

}  // namespace ferry::pci

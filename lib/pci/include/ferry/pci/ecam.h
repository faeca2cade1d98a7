// The PCI Express enhanced configuration access mechanism: a memory window in which
// bus << 20 | device << 15 | function << 12 | register addresses each function's whole 4 KiB.
// Accesses of 1, 2 or 4 bytes inside one dword reach the function; others read all ones and
// are dropped.
#pragma once

#include <cstdint>
#include <memory>

#include "ferry/bus/bus_device.h"
#include "ferry/pci/root_bus.h"

namespace ferry::pci {

class Ecam final : public bus::RegisterDevice<Ecam> {
 public:
  static constexpr uint64_t kBytesPerBus = 1u << 20;

  explicit Ecam(std::shared_ptr<const RootBus> bus) : bus_(std::move(bus)) {}

  uint64_t read_register(uint64_t offset, unsigned size);
  void write_register(uint64_t offset, unsigned size, uint64_t value);

 private:
  std::shared_ptr<const RootBus> bus_;
};

}  // namespace ferry::pci

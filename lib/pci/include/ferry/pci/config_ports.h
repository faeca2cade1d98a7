// PCI configuration mechanism #1: a dword write to port 0xcf8 latches an address (enable bit
// 31, bus 23:16, device 15:11, function 10:8, register 7:2); ports 0xcfc-0xcff then reach that
// dword of the function's first 256 bytes. Other accesses to 0xcf8-0xcfb are not the address
// register: they read all ones and are dropped (the reset register at 0xcf9 is not emulated).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "ferry/bus/bus_device.h"
#include "ferry/pci/root_bus.h"

namespace ferry::pci {

class ConfigPorts final : public bus::RegisterDevice<ConfigPorts> {
 public:
  static constexpr uint16_t kBase = 0xcf8;
  static constexpr uint16_t kSize = 8;

  explicit ConfigPorts(std::shared_ptr<const RootBus> bus) : bus_(std::move(bus)) {}

  uint64_t read_register(uint64_t offset, unsigned size);
  void write_register(uint64_t offset, unsigned size, uint64_t value);

 private:
  static constexpr uint32_t kEnable = 1u << 31;
  static constexpr uint32_t kAddressBits = kEnable | 0x00fffffc;  // 30:24 and 1:0 reserved

  std::shared_ptr<const RootBus> bus_;
  // One address register for every vCPU, as on hardware: guests serialize their config cycles.
  std::atomic<uint32_t> address_{0};
};

}  // namespace ferry::pci

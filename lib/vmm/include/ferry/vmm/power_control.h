// The ACPI power registers of a hardware-reduced platform (docs/acpi.md), three I/O ports the
// FADT points at: the sleep control register (SLP_EN with SLP_TYP = S5 powers the VM off), the
// sleep status register (reads 0: nothing ever wakes), and the reset register (the reset value
// ends the VM as a guest reset does). Any other write is ignored.
#pragma once

#include <cstdint>
#include <functional>

#include "ferry/bus/bus_device.h"

namespace ferry::vmm {

constexpr uint16_t kPowerControlPort = 0x600;
constexpr uint16_t kPowerControlPorts = 3;
constexpr uint16_t kSleepControlPort = kPowerControlPort;
constexpr uint16_t kSleepStatusPort = kPowerControlPort + 1;
constexpr uint16_t kResetPort = kPowerControlPort + 2;
constexpr uint8_t kS5SleepType = 5;  // the value of \_S5 in the DSDT
constexpr uint8_t kResetValue = 0x01;
// ACPI 4.8.3.7, the sleep control register: SLP_TYP in bits 2-4, SLP_EN in bit 5.
constexpr uint8_t kSleepTypeShift = 2;
constexpr uint8_t kSleepTypeMask = 0x7;
constexpr uint8_t kSleepEnable = 1u << 5;

class PowerControl final : public bus::RegisterDevice<PowerControl> {
 public:
  struct Events {
    std::function<void()> power_off;
    std::function<void()> reset;
  };
  explicit PowerControl(Events events) : events_(std::move(events)) {}

  uint64_t read_register(uint64_t offset, unsigned size);
  void write_register(uint64_t offset, unsigned size, uint64_t value);

 private:
  Events events_;
};

}  // namespace ferry::vmm

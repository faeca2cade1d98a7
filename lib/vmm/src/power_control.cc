#include "ferry/vmm/power_control.h"

namespace ferry::vmm {

uint64_t PowerControl::read_register(uint64_t offset, unsigned) {
  // The status register reads 0 (no wake event); control and reset are write-only.
  return offset + kPowerControlPort == kSleepStatusPort ? 0 : ~uint64_t{0};
}

void PowerControl::write_register(uint64_t offset, unsigned size, uint64_t value) {
  if (size != 1) return;  // the FADT declares byte registers
  const uint64_t port = kPowerControlPort + offset;
  if (port == kSleepControlPort && (value & kSleepEnable) &&
      ((value >> kSleepTypeShift) & kSleepTypeMask) == kS5SleepType) {
    if (events_.power_off) events_.power_off();
  } else if (port == kResetPort && value == kResetValue) {
    if (events_.reset) events_.reset();
  }
}

}  // namespace ferry::vmm

// A legacy interrupt pin a device drives (the UART's IRQ 4).
#pragma once

#include <cstdint>

#include "ferry/accel/vm.h"

namespace ferry::vmm {

class IrqLine {
 public:
  virtual ~IrqLine() = default;
  /// Drives the pin high (asserted) or low.
  virtual void set_level(bool high) = 0;
};

// A pin of the VM's interrupt controller.
class VmIrqLine final : public IrqLine {
 public:
  VmIrqLine(accel::Vm& vm, uint32_t gsi) : vm_(vm), gsi_(gsi) {}
  void set_level(bool high) override;

 private:
  accel::Vm& vm_;
  uint32_t gsi_;
};

}  // namespace ferry::vmm

// A wire from a device to an interrupt controller input (an IOAPIC pin).
#pragma once

namespace ferry::irq {

class IrqLine {
 public:
  virtual ~IrqLine() = default;
  /// Asserts (true) or deasserts the line. Polarity is the controller's business.
  virtual void set_level(bool asserted) = 0;
};

}  // namespace ferry::irq

// The VM's IOAPIC (82093AA programming model, version 0x20, 24 pins), emulated by the VMM.
//
// Each pin is an MSI in disguise: an MsiVector on GSI <pin> whose message is the redirection
// entry; unmasking the entry makes the vector live, and an assertion signals it. Level-triggered
// pins keep Remote IRR until the guest's EOI comes back (ExitKind::kIoapicEoi, or the EOI register)
// and fire again if the line is still asserted. Edges while a pin is masked are lost, as on
// hardware.
//
// Lock order: a device's own lock -> mutex_ -> MsiRouteTable.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>

#include "ferry/base/event_fd.h"
#include "ferry/bus/bus_device.h"
#include "ferry/irq/irq_line.h"
#include "ferry/irq/msi_route_table.h"
#include "ferry/irq/msi_vector.h"

namespace ferry::irq {

class Ioapic final : public bus::RegisterDevice<Ioapic> {
 public:
  static constexpr unsigned kPins = 24;
  static constexpr uint64_t kMmioSize = 0x1000;
  static constexpr uint64_t kMaskBit = 1ull << 16;  // in a redirection entry

  /// Claims GSIs 0-23, one MsiVector per pin.
  static Expected<std::shared_ptr<Ioapic>> create(MsiRouteTable& routes);
  ~Ioapic() override;

  uint64_t read_register(uint64_t offset, unsigned size);
  void write_register(uint64_t offset, unsigned size, uint64_t value);

  /// Drives input `pin` (< kPins) high or low.
  void set_level(unsigned pin, bool asserted);
  /// The guest ended `vector`: clears Remote IRR of its level pins and re-fires asserted ones.
  void end_of_interrupt(uint8_t vector);
  /// A line bound to `pin` for a device to hold. Lives as long as the Ioapic.
  IrqLine& line(unsigned pin) { return pins_[pin].line; }
  /// Makes `pin` resampled (ResampledLine): the guest's EOI of it deasserts the pin and signals
  /// `resample` instead of firing again; null makes it an ordinary pin.
  void set_resample(unsigned pin, const EventFd* resample);

 private:
  class PinLine final : public IrqLine {
   public:
    void set_level(bool asserted) override { ioapic->set_level(pin, asserted); }
    Ioapic* ioapic = nullptr;
    unsigned pin = 0;
  };
  struct Pin {
    uint64_t entry = kMaskBit;  // as the guest wrote it; Remote IRR is kept separately
    bool asserted = false;
    bool remote_irr = false;
    const EventFd* resample = nullptr;  // the source re-asserts after an EOI, not the pin
    std::unique_ptr<MsiVector> msi;
    PinLine line;
  };

  explicit Ioapic(MsiRouteTable& routes);
  uint32_t read_indirect(uint32_t index) const;
  void write_indirect(uint32_t index, uint32_t value);
  void entry_changed(unsigned pin);
  void fire(unsigned pin);

  MsiRouteTable& routes_;
  mutable std::mutex mutex_;  // guards everything below
  uint32_t select_ = 0;
  uint32_t id_ = 0;
  std::array<Pin, kPins> pins_;
};

}  // namespace ferry::irq

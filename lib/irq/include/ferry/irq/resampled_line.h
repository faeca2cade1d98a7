// A level-triggered source behind a pair of eventfds, as VFIO's INTx is: the source signals
// `trigger` when it asserts (and masks itself), which asserts an IOAPIC pin; the guest's EOI
// deasserts the pin and signals `resample`, on which the source unmasks and triggers again if
// it is still asserted. This is KVM's resampling irqfd done in the VMM: KVM refuses a
// resamplefd with the split irqchip ferry uses, and MSHV has no IOAPIC to ack one (docs/irq.md).
//
// Lock order: EventLoop's lock -> the Ioapic's (the trigger's callback asserts the pin); the
// Ioapic never calls into the loop.
#pragma once

#include <memory>

#include "ferry/base/error.h"
#include "ferry/base/event_fd.h"
#include "ferry/irq/event_loop.h"
#include "ferry/irq/ioapic.h"

namespace ferry::irq {

class ResampledLine {
 public:
  /// Wires `trigger` to IOAPIC `pin` and the pin's EOI to `resample`. Both stay the caller's
  /// and must outlive the line.
  static Expected<std::unique_ptr<ResampledLine>> create(Ioapic& ioapic, unsigned pin,
                                                         EventLoop& loop, const EventFd& trigger,
                                                         const EventFd& resample);
  /// Stops watching the trigger, makes the pin ordinary again and deasserts it.
  ~ResampledLine();
  ResampledLine(const ResampledLine&) = delete;
  ResampledLine& operator=(const ResampledLine&) = delete;

 private:
  ResampledLine(Ioapic& ioapic, unsigned pin, EventLoop& loop, const EventFd& trigger)
      : ioapic_(ioapic), pin_(pin), loop_(loop), trigger_(trigger) {}

  Ioapic& ioapic_;
  unsigned pin_;
  EventLoop& loop_;
  const EventFd& trigger_;
};

}  // namespace ferry::irq

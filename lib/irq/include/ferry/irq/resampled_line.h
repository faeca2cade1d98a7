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
#include "ferry/irq/event_loop.h"
#include "ferry/irq/ioapic.h"

namespace ferry::irq {

class ResampledLine {
 public:
  /// Wires `trigger_fd` to IOAPIC `pin` and the pin's EOI to `resample_fd`. Both fds stay the
  /// caller's and must outlive the line.
  static Expected<std::unique_ptr<ResampledLine>> create(Ioapic& ioapic, unsigned pin,
                                                         EventLoop& loop, int trigger_fd,
                                                         int resample_fd);
  /// Stops watching the trigger, makes the pin ordinary again and deasserts it.
  ~ResampledLine();
  ResampledLine(const ResampledLine&) = delete;
  ResampledLine& operator=(const ResampledLine&) = delete;

 private:
  ResampledLine(Ioapic& ioapic, unsigned pin, EventLoop& loop, int trigger_fd)
      : ioapic_(ioapic), pin_(pin), loop_(loop), trigger_fd_(trigger_fd) {}

  Ioapic& ioapic_;
  unsigned pin_;
  EventLoop& loop_;
  int trigger_fd_;
};

}  // namespace ferry::irq

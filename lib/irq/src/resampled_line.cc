#include "ferry/irq/resampled_line.h"

namespace ferry::irq {

Expected<std::unique_ptr<ResampledLine>> ResampledLine::create(Ioapic& ioapic, unsigned pin,
                                                               EventLoop& loop,
                                                               const EventFd& trigger,
                                                               const EventFd& resample) {
  if (pin >= Ioapic::kPins) {
    return fail(Errc::kInvalidArgument, "resampled line on IOAPIC pin {}: it has pins 0-{}", pin,
                Ioapic::kPins - 1);
  }
  ioapic.set_resample(pin, &resample);
  auto asserted = [&ioapic, pin, &trigger] {
    auto count = trigger.drain();
    if (count && *count > 0) ioapic.set_level(pin, true);
  };
  if (auto watched = loop.watch(trigger.fd(), asserted); !watched) {
    ioapic.set_resample(pin, nullptr);
    return fail(watched.error().code(), "resampled line on IOAPIC pin {}: {}", pin,
                watched.error().message());
  }
  return std::unique_ptr<ResampledLine>(new ResampledLine(ioapic, pin, loop, trigger));
}

ResampledLine::~ResampledLine() {
  loop_.unwatch(trigger_.fd());
  ioapic_.set_resample(pin_, nullptr);
  ioapic_.set_level(pin_, false);
}

}  // namespace ferry::irq

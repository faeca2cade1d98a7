#include "ferry/irq/resampled_line.h"

#include <unistd.h>

#include <cstdint>

namespace ferry::irq {

Expected<std::unique_ptr<ResampledLine>> ResampledLine::create(Ioapic& ioapic, unsigned pin,
                                                               EventLoop& loop, int trigger_fd,
                                                               int resample_fd) {
  if (pin >= Ioapic::kPins) {
    return fail(Errc::kInvalidArgument, "resampled line on IOAPIC pin {}: it has pins 0-{}", pin,
                Ioapic::kPins - 1);
  }
  ioapic.set_resample_fd(pin, resample_fd);
  auto asserted = [&ioapic, pin, trigger_fd] {
    uint64_t count = 0;
    if (::read(trigger_fd, &count, sizeof count) == sizeof count) ioapic.set_level(pin, true);
  };
  if (auto watched = loop.watch(trigger_fd, asserted); !watched) {
    ioapic.set_resample_fd(pin, -1);
    return fail(watched.error().code(), "resampled line on IOAPIC pin {}: {}", pin,
                watched.error().message());
  }
  return std::unique_ptr<ResampledLine>(new ResampledLine(ioapic, pin, loop, trigger_fd));
}

ResampledLine::~ResampledLine() {
  loop_.unwatch(trigger_fd_);
  ioapic_.set_resample_fd(pin_, -1);
  ioapic_.set_level(pin_, false);
}

}  // namespace ferry::irq

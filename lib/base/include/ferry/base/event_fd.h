// A Linux eventfd: the currency of irqfd, ioeventfd and VFIO interrupt wiring.
#pragma once

#include <cstdint>

#include "ferry/base/error.h"
#include "ferry/base/unique_fd.h"

namespace ferry {

class EventFd {
 public:
  // Non-blocking, close-on-exec, counting (not semaphore) mode.
  static Expected<EventFd> create();

  int fd() const { return fd_.get(); }
  // Adds 1 to the counter; async-signal-safe.
  Expected<void> signal() const;
  // Returns and clears the counter; 0 when it was already zero.
  Expected<uint64_t> drain() const;

 private:
  explicit EventFd(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace ferry

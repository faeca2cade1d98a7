// What the kernel sees of an eventfd, read without consuming it: /proc/self/fdinfo gives the
// counter and the eventfd's identity (two fds of one eventfd share it, as they share the kernel's
// eventfd_ctx).
#pragma once

#include <cstdint>
#include <optional>

namespace ferry::test {

struct EventFdInfo {
  uint64_t id = 0;
  uint64_t count = 0;
};

// The eventfd behind `fd`, or -EBADF (not open) / -EINVAL (open, but not an eventfd), as
// eventfd_ctx_fdget() answers.
struct EventFdLookup {
  std::optional<EventFdInfo> info;
  int error = 0;
};
EventFdLookup lookup_eventfd(int fd);

}  // namespace ferry::test

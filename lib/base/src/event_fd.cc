#include "ferry/base/event_fd.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

namespace ferry {

Expected<EventFd> EventFd::create() {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return fail_errno(errno, "eventfd");
  return EventFd(UniqueFd(fd));
}

Expected<void> EventFd::signal() const {
  uint64_t one = 1;
  if (::write(fd_.get(), &one, sizeof one) != sizeof one) return fail_errno(errno, "eventfd write");
  return {};
}

Expected<uint64_t> EventFd::drain() const {
  uint64_t count = 0;
  if (::read(fd_.get(), &count, sizeof count) == sizeof count) return count;
  if (errno == EAGAIN) return 0;
  return fail_errno(errno, "eventfd read");
}

}  // namespace ferry

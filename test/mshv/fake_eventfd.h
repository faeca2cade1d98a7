// What the kernel sees of an eventfd, read without consuming it: /proc/self/fdinfo gives the
// counter and the eventfd's identity (two fds of one eventfd share it, as they share the kernel's
// eventfd_ctx).
//
// The kernel also sees every write() as it happens (each one wakes an irqfd once, however much it
// adds) and the close of an eventfd's last reference (EPOLLHUP). A test binary that links the
// fake wraps write() and close() at link time (ld --wrap, see CMakeLists.txt) so that the fake
// can count the writes to each eventfd and notice closes.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>

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

/// Reads and clears the counter, as the kernel's eventfd_ctx_do_read() does. Only when it is
/// non-zero: the VMM's eventfd may be blocking, and a dup shares that.
void drain_eventfd(int fd);

/// How many successful write()s the process has made to the eventfd with this id so far (writes
/// from outside the wrapped binary, e.g. glibc's eventfd_write(), are not seen).
uint64_t eventfd_writes(uint64_t id);

/// How many close()s the process has made so far, of any fd.
uint64_t fd_closes();
/// Calls `observer` with every fd the process close()s from now on, just before it closes (the fd
/// still refers to its file), until unwatch_closes() with the id returned. Observers run under a
/// lock, on the closing thread: they must not close fds themselves, nor take a lock that is held
/// across a close() (fakes watch their own fds with a leaf lock of their own).
int watch_closes(std::function<void(int)> observer);
void unwatch_closes(int id);
/// Runs the observers for `fd` (the wrapped close() calls it).
void tell_close_watchers(int fd);
/// The ids of the eventfds that some open fd, other than those in `except`, refers to.
std::set<uint64_t> open_eventfd_ids(const std::set<int>& except);

}  // namespace ferry::test

// One thread that waits on eventfds the kernel is not consuming (the vectors an assigned device
// keeps signalling while they are masked and their irqfd is deassigned) and runs a callback
// when one becomes readable, so the VMM can set the vector's pending bit.
//
// Lock order: callers' locks -> mutex_. A callback runs with mutex_ held: it must not call
// watch() or unwatch(), and may take only locks never held while calling into the loop.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "ferry/base/error.h"
#include "ferry/base/event_fd.h"
#include "ferry/base/unique_fd.h"

namespace ferry::irq {

class EventLoop {
 public:
  /// Code the loop's thread runs on itself before it waits on anything (ferry run loads the
  /// thread's seccomp filter there); its error is start()'s.
  using ThreadStart = std::function<Expected<void>()>;

  /// Starts the thread; returns once `on_thread_start` has run on it.
  static Expected<std::unique_ptr<EventLoop>> start(ThreadStart on_thread_start = {});
  /// Stops and joins the thread.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// Calls `ready` on the loop's thread while `fd` is readable; `ready` must consume what it
  /// finds (level-triggered).
  Expected<void> watch(int fd, std::function<void()> ready);
  /// Stops watching `fd`. When this returns, `ready` is not running and will not run again.
  void unwatch(int fd);

 private:
  EventLoop(UniqueFd epoll, EventFd stop) : epoll_(std::move(epoll)), stop_(std::move(stop)) {}
  void run();

  UniqueFd epoll_;
  EventFd stop_;
  std::thread thread_;
  std::mutex mutex_;  // guards callbacks_; held while a callback runs
  std::map<int, std::function<void()>> callbacks_;
};

}  // namespace ferry::irq

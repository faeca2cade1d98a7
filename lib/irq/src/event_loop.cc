#include "ferry/irq/event_loop.h"

#include <sys/epoll.h>

#include <fmt/format.h>
#include <array>
#include <future>

#include <cerrno>

namespace ferry::irq {

Expected<std::unique_ptr<EventLoop>> EventLoop::start(ThreadStart on_thread_start) {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return fail_errno(errno, "epoll_create1 for the interrupt event loop");
  FERRY_ASSIGN(EventFd stop, EventFd::create());
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = stop.fd();
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, stop.fd(), &event) != 0) {
    return fail_errno(errno, "epoll_ctl(ADD) of the event loop's stop eventfd");
  }
  std::unique_ptr<EventLoop> loop(new EventLoop(std::move(epoll), std::move(stop)));
  std::promise<Expected<void>> started;
  std::future<Expected<void>> result = started.get_future();
  // The thread owns the promise: the caller may be gone while set_value finishes.
  loop->thread_ = std::thread([raw = loop.get(), started = std::move(started),
                               hook = std::move(on_thread_start)]() mutable {
    Expected<void> ready = hook ? hook() : Expected<void>{};
    const bool ok = ready.has_value();
    started.set_value(std::move(ready));
    if (ok) raw->run();
  });
  FERRY_TRY(result.get());  // on failure the thread has ended; the destructor joins it
  return loop;
}

EventLoop::~EventLoop() {
  (void)stop_.signal();
  if (thread_.joinable()) thread_.join();
}

Expected<void> EventLoop::watch(int fd, std::function<void()> ready) {
  std::lock_guard lock(mutex_);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
    return fail_errno(errno, fmt::format("epoll_ctl(ADD) of eventfd {}", fd));
  }
  callbacks_[fd] = std::move(ready);
  return {};
}

void EventLoop::unwatch(int fd) {
  std::lock_guard lock(mutex_);  // waits for a callback that is running
  (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  callbacks_.erase(fd);
}

void EventLoop::run() {
  std::array<epoll_event, 16> events{};
  for (;;) {
    const int n = ::epoll_wait(epoll_.get(), events.data(), events.size(), -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;
    std::lock_guard lock(mutex_);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == stop_.fd()) return;
      // An event fetched before an unwatch() finds no callback: skipped.
      auto callback = callbacks_.find(events[i].data.fd);
      if (callback != callbacks_.end()) callback->second();
    }
  }
}

}  // namespace ferry::irq

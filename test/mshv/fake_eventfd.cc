#include "fake_eventfd.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace ferry::test {
namespace {

// Eventfd ids are small: the kernel hands out the lowest free one.
constexpr uint64_t kCountedIds = 1 << 16;
std::array<std::atomic<uint64_t>, kCountedIds> g_writes{};
std::atomic<uint64_t> g_closes{0};
std::atomic<bool> g_watched{false};

struct CloseWatchers {
  std::mutex mutex;
  int next = 0;
  std::map<int, std::function<void(int)>> observers;
};
CloseWatchers& close_watchers() {
  static CloseWatchers* watchers = new CloseWatchers;  // never destroyed: closes outlive statics
  return *watchers;
}

struct FdInfo {
  bool eventfd = false;
  uint64_t id = 0;
  uint64_t count = 0;
};

// Reads /proc/self/fdinfo/<fd> with plain system calls: it runs inside write(), from any thread.
bool read_fdinfo(int fd, FdInfo& info) {
  char path[40] = "/proc/self/fdinfo/";
  char digits[12];
  int n = 0;
  for (unsigned v = static_cast<unsigned>(fd); n == 0 || v != 0; v /= 10) {
    digits[n++] = static_cast<char>('0' + v % 10);
  }
  size_t at = std::strlen(path);
  while (n > 0) path[at++] = digits[--n];
  path[at] = '\0';
  const int file = ::open(path, O_RDONLY | O_CLOEXEC);
  if (file < 0) return false;
  char text[512];
  const ssize_t size = ::read(file, text, sizeof text - 1);
  ::syscall(SYS_close, file);  // not the wrapped close(): no VMM fd went away
  if (size <= 0) return false;
  text[size] = '\0';
  const char* count = std::strstr(text, "eventfd-count:");
  const char* id = std::strstr(text, "eventfd-id:");
  info.eventfd = count != nullptr && id != nullptr;
  if (!info.eventfd) return true;
  info.count = std::strtoull(count + 14, nullptr, 16);
  info.id = std::strtoull(id + 11, nullptr, 10);
  return true;
}

}  // namespace

EventFdLookup lookup_eventfd(int fd) {
  FdInfo info;
  if (fd < 0 || ::fcntl(fd, F_GETFD) < 0 || !read_fdinfo(fd, info)) return {std::nullopt, -EBADF};
  if (!info.eventfd) return {std::nullopt, -EINVAL};
  return {EventFdInfo{info.id, info.count}, 0};
}

void drain_eventfd(int fd) {
  FdInfo info;
  if (!read_fdinfo(fd, info) || !info.eventfd || info.count == 0) return;
  uint64_t drained = 0;
  (void)!::read(fd, &drained, sizeof drained);
}

uint64_t eventfd_writes(uint64_t id) {
  return id < kCountedIds ? g_writes[id].load(std::memory_order_acquire) : 0;
}

int watch_closes(std::function<void(int)> observer) {
  CloseWatchers& w = close_watchers();
  std::lock_guard lock(w.mutex);
  w.observers.emplace(++w.next, std::move(observer));
  g_watched.store(true, std::memory_order_release);
  return w.next;
}

void unwatch_closes(int id) {
  CloseWatchers& w = close_watchers();
  std::lock_guard lock(w.mutex);
  w.observers.erase(id);
}

void tell_close_watchers(int fd) {
  if (!g_watched.load(std::memory_order_acquire)) return;
  CloseWatchers& w = close_watchers();
  std::lock_guard lock(w.mutex);
  for (auto& [id, observer] : w.observers) observer(fd);
}

uint64_t fd_closes() { return g_closes.load(std::memory_order_acquire); }

std::set<uint64_t> open_eventfd_ids(const std::set<int>& except) {
  std::set<uint64_t> ids;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return ids;
  const int own = ::dirfd(dir);
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const int fd = std::atoi(entry->d_name);
    FdInfo info;
    if (fd == own || except.count(fd) != 0 || !read_fdinfo(fd, info) || !info.eventfd) continue;
    ids.insert(info.id);
  }
  ::closedir(dir);
  return ids;
}

}  // namespace ferry::test

// The link-time wrappers (ld --wrap=write --wrap=close): the real call, then the count.
extern "C" ssize_t __real_write(int fd, const void* buf, size_t size);
extern "C" int __real_close(int fd);

extern "C" ssize_t __wrap_write(int fd, const void* buf, size_t size) {
  const ssize_t written = __real_write(fd, buf, size);
  if (written != static_cast<ssize_t>(sizeof(uint64_t)))
    return written;  // an eventfd takes exactly 8 bytes
  const int saved = errno;
  ferry::test::FdInfo info;
  if (ferry::test::read_fdinfo(fd, info) && info.eventfd && info.id < ferry::test::kCountedIds) {
    ferry::test::g_writes[info.id].fetch_add(1, std::memory_order_acq_rel);
  }
  errno = saved;
  return written;
}

extern "C" int __wrap_close(int fd) {
  ferry::test::tell_close_watchers(fd);
  const int closed = __real_close(fd);
  ferry::test::g_closes.fetch_add(1, std::memory_order_acq_rel);  // after: the fd is gone
  return closed;
}

#include "fake_eventfd.h"

#include <fcntl.h>

#include <cerrno>
#include <fstream>
#include <string>

namespace ferry::test {

EventFdLookup lookup_eventfd(int fd) {
  if (fd < 0 || ::fcntl(fd, F_GETFD) < 0) return {std::nullopt, -EBADF};
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
  std::optional<uint64_t> count, id;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("eventfd-count:", 0) == 0) count = std::stoull(line.substr(14), nullptr, 16);
    if (line.rfind("eventfd-id:", 0) == 0) id = std::stoull(line.substr(11), nullptr, 10);
  }
  if (!count || !id) return {std::nullopt, -EINVAL};
  return {EventFdInfo{*id, *count}, 0};
}

}  // namespace ferry::test

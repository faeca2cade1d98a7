#include "ferry/base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "ferry/base/unique_fd.h"

namespace ferry {

namespace {

// Opens a regular file for reading and tells its size.
Expected<UniqueFd> open_regular(const std::string& path, uint64_t& size) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno(errno, fmt::format("opening {}", path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return fail_errno(errno, fmt::format("stat {}", path));
  if (!S_ISREG(st.st_mode)) {
    return fail(Errc::kInvalidArgument, "{} is not a regular file", path);
  }
  size = static_cast<uint64_t>(st.st_size);
  return fd;
}

Expected<std::vector<uint8_t>> read_up_to(const UniqueFd& fd, const std::string& path,
                                          uint64_t length) {
  std::vector<uint8_t> bytes(static_cast<size_t>(length));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(errno, fmt::format("reading {}", path));
    if (n == 0) break;  // the file shrank while we read it
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

}  // namespace

Expected<std::vector<uint8_t>> read_file(const std::string& path, uint64_t max_size) {
  uint64_t size = 0;
  FERRY_ASSIGN(UniqueFd fd, open_regular(path, size));
  if (size > max_size) {
    return fail(Errc::kInvalidArgument, "{} is {} bytes, more than the {} allowed", path, size,
                max_size);
  }
  return read_up_to(fd, path, size);
}

Expected<std::vector<uint8_t>> read_file_prefix(const std::string& path, uint64_t length) {
  uint64_t size = 0;
  FERRY_ASSIGN(UniqueFd fd, open_regular(path, size));
  return read_up_to(fd, path, std::min(size, length));
}

}  // namespace ferry

#include "ferry/base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace ferry {

namespace {

tl::unexpected<Error> not_regular(const std::string& path, mode_t mode) {
  return fail(Errc::kInvalidArgument, "{} is {}, not a regular file; give the path of a file", path,
              file_kind(mode));
}

// Checks what `fd` turned out to be (the path may have changed since it was stat'ed) and puts it
// back into blocking mode: O_NONBLOCK was only there so that opening a FIFO could not hang.
Expected<UniqueFd> keep_if_regular(UniqueFd fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return fail_errno(errno, fmt::format("stat {}", path));
  if (!S_ISREG(st.st_mode)) return not_regular(path, st.st_mode);
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return fail_errno(errno, fmt::format("fcntl {}", path));
  }
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

Expected<uint64_t> file_size(const UniqueFd& fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return fail_errno(errno, fmt::format("stat {}", path));
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace

std::string_view file_kind(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "a regular file";
    case S_IFDIR:
      return "a directory";
    case S_IFIFO:
      return "a FIFO (named pipe)";
    case S_IFCHR:
      return "a character device";
    case S_IFBLK:
      return "a block device";
    case S_IFSOCK:
      return "a socket";
    case S_IFLNK:
      return "a symbolic link";
    default:
      return "a special file";
  }
}

Expected<void> check_not_special(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return {};  // opening it will say what is wrong
  if (!S_ISREG(st.st_mode)) return not_regular(path, st.st_mode);
  return {};
}

Expected<UniqueFd> open_regular_file(const std::string& path) {
  // stat first, so that a device is never opened (opening some has side effects).
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return fail_errno(errno, fmt::format("opening {}", path));
  if (!S_ISREG(st.st_mode)) return not_regular(path, st.st_mode);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return fail_errno(errno, fmt::format("opening {}", path));
  return keep_if_regular(std::move(fd), path);
}

Expected<UniqueFd> create_regular_file(const std::string& path) {
  FERRY_TRY(check_not_special(path));
  // No O_TRUNC: truncate only once fstat says it is a regular file.
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0644));
  if (!fd) return fail_errno(errno, fmt::format("opening {}", path));
  FERRY_ASSIGN(fd, keep_if_regular(std::move(fd), path));
  if (::ftruncate(fd.get(), 0) != 0) return fail_errno(errno, fmt::format("truncating {}", path));
  return fd;
}

Expected<std::vector<uint8_t>> read_file(const std::string& path, uint64_t max_size) {
  FERRY_ASSIGN(UniqueFd fd, open_regular_file(path));
  FERRY_ASSIGN(uint64_t size, file_size(fd, path));
  if (size > max_size) {
    return fail(Errc::kInvalidArgument, "{} is {} bytes, more than the {} allowed", path, size,
                max_size);
  }
  return read_up_to(fd, path, size);
}

Expected<std::vector<uint8_t>> read_file_prefix(const std::string& path, uint64_t length) {
  FERRY_ASSIGN(UniqueFd fd, open_regular_file(path));
  FERRY_ASSIGN(uint64_t size, file_size(fd, path));
  return read_up_to(fd, path, std::min(size, length));
}

}  // namespace ferry

#include "ferry/vmm/serial_output.h"

#include <unistd.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "ferry/base/file.h"

namespace ferry::vmm {

Expected<void> SerialOutput::check_file(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  struct stat st {};
  if (::stat(dir.empty() ? "." : dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fail(Errc::kNotFound,
                "{}: the directory {} does not exist; create it (mkdir -p {}) or choose a path "
                "in an existing directory",
                path, dir, dir);
  }
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      return fail(Errc::kInvalidArgument, "{} is a directory; name a file in it", path);
    }
    FERRY_TRY(check_not_special(path));  // a FIFO would block the open in to_file
    if (::access(path.c_str(), W_OK) != 0) {
      return fail(Errc::kPermission,
                  "{} is not writable ({}); fix its permissions or "
                  "choose another path",
                  path, std::strerror(errno));
    }
  } else if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return fail(Errc::kPermission,
                "{}: files cannot be created in {} ({}); choose a writable directory", path, dir,
                std::strerror(errno));
  }
  return {};
}

Expected<SerialOutput> SerialOutput::to_file(const std::string& path) {
  if (auto usable = check_file(path); !usable) return fail(usable.error().context("serial"));
  auto file = create_regular_file(path);
  if (!file) return fail(file.error().context("serial"));
  const int fd = file->get();
  return SerialOutput(fd, std::move(*file));
}

void SerialOutput::put(uint8_t byte) const {
  if (tail_) tail_->put(byte);
  if (fd_ < 0) return;
  while (::write(fd_, &byte, 1) < 0 && errno == EINTR) {
  }
}

}  // namespace ferry::vmm

#include "ferry/vmm/serial_output.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace ferry::vmm {

Expected<SerialOutput> SerialOutput::to_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail_errno(errno, fmt::format("serial: opening {}", path));
  return SerialOutput(fd, UniqueFd(fd));
}

void SerialOutput::put(uint8_t byte) const {
  if (fd_ < 0) return;
  while (::write(fd_, &byte, 1) < 0 && errno == EINTR) {
  }
}

}  // namespace ferry::vmm

#include "ferry/vmm/serial_output.h"

#include <unistd.h>

#include <cerrno>

#include "ferry/base/file.h"

namespace ferry::vmm {

Expected<SerialOutput> SerialOutput::to_file(const std::string& path) {
  auto file = create_regular_file(path);
  if (!file) return fail(file.error().context("serial"));
  const int fd = file->get();
  return SerialOutput(fd, std::move(*file));
}

void SerialOutput::put(uint8_t byte) const {
  if (fd_ < 0) return;
  while (::write(fd_, &byte, 1) < 0 && errno == EINTR) {
  }
}

}  // namespace ferry::vmm

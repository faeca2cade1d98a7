#include "support/kvm_required.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ferry::test {

std::string kvm_unusable_reason() {
  int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::string("cannot open /dev/kvm: ") + std::strerror(errno);
  ::close(fd);
  return {};
}

bool no_kvm_allowed() {
  const char* value = std::getenv("FERRY_ALLOW_NO_KVM");
  return value != nullptr && std::strcmp(value, "1") == 0;
}

}  // namespace ferry::test

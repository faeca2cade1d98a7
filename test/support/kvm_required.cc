#include "support/kvm_required.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ferry::test {

std::string kvm_unusable_reason() {
  int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::string("cannot open /dev/kvm: ") + std::strerror(errno);
  // A file that opens is not yet KVM (a bind mount, a stale node): ask it for the API version.
  const int version = ::ioctl(fd, KVM_GET_API_VERSION, 0);
  const int saved_errno = errno;
  ::close(fd);
  if (version < 0) {
    return std::string("/dev/kvm does not answer KVM_GET_API_VERSION: ") +
           std::strerror(saved_errno);
  }
  if (version != KVM_API_VERSION) {
    return "/dev/kvm speaks KVM API version " + std::to_string(version) + ", ferry needs " +
           std::to_string(KVM_API_VERSION);
  }
  return {};
}

std::string kvm_legacy_paging_missing_reason() {
  if (!kvm_unusable_reason().empty()) return {};  // no KVM here: nothing to say about its paging
  if (::access("/sys/module/kvm_pvm", F_OK) != 0) return {};
  // A hardware KVM module beside it serves /dev/kvm instead.
  if (::access("/sys/module/kvm_intel", F_OK) == 0 || ::access("/sys/module/kvm_amd", F_OK) == 0) {
    return {};
  }
  return "this host's KVM is kvm-pvm (/sys/module/kvm_pvm), which runs guests only with "
         "long-mode paging";
}

bool no_kvm_allowed() {
  const char* value = std::getenv("FERRY_ALLOW_NO_KVM");
  return value != nullptr && std::strcmp(value, "1") == 0;
}

}  // namespace ferry::test

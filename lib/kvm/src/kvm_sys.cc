#include "ferry/kvm/kvm_sys.h"
#include "ferry/base/hot_path.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>

namespace ferry::kvm {

KvmSys& KvmSys::real() {
  static KvmSys sys;
  return sys;
}

int KvmSys::open_device(const char* path) {
  int fd = ::open(path, O_RDWR | O_CLOEXEC);
  return fd >= 0 ? fd : -errno;
}

FERRY_HOT int KvmSys::ioctl(int fd, unsigned long request, void* arg) {
  for (;;) {
    int result = ::ioctl(fd, request, arg);
    if (result >= 0) return result;
    if (errno != EINTR || request == KVM_RUN) return -errno;
  }
}

Expected<Mapping> KvmSys::map(int fd, size_t size, off_t offset) {
  return Mapping::of_fd(fd, size, PROT_READ | PROT_WRITE, offset);
}

}  // namespace ferry::kvm

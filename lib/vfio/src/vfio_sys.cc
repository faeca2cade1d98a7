#include "ferry/vfio/vfio_sys.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

namespace ferry::vfio {

VfioSys& VfioSys::real() {
  static VfioSys sys;
  return sys;
}

int VfioSys::open(const char* path) {
  int fd = ::open(path, O_RDWR | O_CLOEXEC);
  return fd >= 0 ? fd : -errno;
}

int VfioSys::ioctl(int fd, unsigned long request, void* arg) {
  for (;;) {
    int result = ::ioctl(fd, request, arg);
    if (result >= 0) return result;
    if (errno != EINTR) return -errno;
  }
}

ssize_t VfioSys::pread(int fd, void* data, size_t size, off_t offset) {
  ssize_t n = ::pread(fd, data, size, offset);
  return n >= 0 ? n : -errno;
}

ssize_t VfioSys::pwrite(int fd, const void* data, size_t size, off_t offset) {
  ssize_t n = ::pwrite(fd, data, size, offset);
  return n >= 0 ? n : -errno;
}

Expected<Mapping> VfioSys::map(int fd, size_t size, off_t offset) {
  return Mapping::of_fd(fd, size, PROT_READ | PROT_WRITE, offset);
}

}  // namespace ferry::vfio

#include "ferry/vfio/vfio_sys.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
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

size_t bar_map_alignment(size_t size, uint64_t offset) {
  constexpr size_t kLargest = size_t{1} << 30;  // the largest page table entry x86 has
  size_t alignment = std::min(std::bit_floor(size), kLargest);
  // The BAR's own alignment at `offset` (VFIO region offsets keep the BAR's low bits).
  if (offset != 0) alignment = std::min<size_t>(alignment, offset & -offset);
  return alignment;
}

Expected<Mapping> VfioSys::map(int fd, size_t size, off_t offset) {
  return Mapping::of_fd_aligned(fd, size, PROT_READ | PROT_WRITE, offset,
                                bar_map_alignment(size, static_cast<uint64_t>(offset)));
}

}  // namespace ferry::vfio

// The thin boundary between lib/vfio and the kernel's VFIO files, so that tests can stand a
// behavioral fake in for /dev/vfio.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "ferry/base/error.h"
#include "ferry/base/mapping.h"

namespace ferry::vfio {

class VfioSys {
 public:
  virtual ~VfioSys() = default;

  /// The process-wide instance that makes real system calls.
  static VfioSys& real();

  /// open(path, O_RDWR | O_CLOEXEC): the fd (a real one: callers close it), or -errno.
  virtual int open(const char* path);
  /// ioctl(2): its result, or -errno (EINTR retried).
  virtual int ioctl(int fd, unsigned long request, void* arg);
  /// pread(2)/pwrite(2) of a device region: bytes moved, or -errno.
  virtual ssize_t pread(int fd, void* data, size_t size, off_t offset);
  virtual ssize_t pwrite(int fd, const void* data, size_t size, off_t offset);
  /// A shared read-write mapping of a device region, aligned as bar_map_alignment() says.
  virtual Expected<Mapping> map(int fd, size_t size, off_t offset);
};

/// Where a BAR piece of `size` at region `offset` is mapped: at a multiple of the largest power
/// of two (up to 1 GiB) that both its size and its offset allow, so the kernel and KVM can use
/// 2 MiB and 1 GiB entries for it.
size_t bar_map_alignment(size_t size, uint64_t offset);

}  // namespace ferry::vfio

// The thin boundary between the MSHV backend and the kernel: opening /dev/mshv, the ioctls, the
// mmap of a VP's register page, and the host CPUID the guest's table starts from. Tests stand a
// behavioral model of the driver (test/mshv/fake_mshv_driver.h) in its place; there is no
// /dev/mshv on a development machine.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "ferry/base/error.h"
#include "ferry/base/mapping.h"

namespace ferry::mshv {

struct CpuidRegs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

class MshvDriver {
 public:
  virtual ~MshvDriver() = default;

  /// The process-wide instance that makes real system calls.
  static MshvDriver& real();

  /// open(path, O_RDWR | O_CLOEXEC): the fd, or -errno.
  virtual int open_device(const char* path);
  /// ioctl(2): its result, or -errno. EINTR is retried, except for MSHV_RUN_VP (a kick).
  virtual int ioctl(int fd, unsigned long request, void* arg);
  /// A shared read-write mapping of `size` bytes of a VP fd at `page` pages in
  /// (kVpMmapRegisters, ...).
  virtual Expected<Mapping> map_vp_page(int vp_fd, size_t size, unsigned page);
  /// The CPUID instruction on this host, leaf and subleaf.
  virtual CpuidRegs host_cpuid(uint32_t leaf, uint32_t subleaf);
};

}  // namespace ferry::mshv

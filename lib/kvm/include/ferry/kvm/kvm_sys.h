// The thin boundary between the KVM backend and the kernel. Tests derive from it to inject
// kernel failures that real KVM will not produce on demand.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "ferry/base/error.h"
#include "ferry/base/mapping.h"

namespace ferry::kvm {

class KvmSys {
 public:
  virtual ~KvmSys() = default;

  /// The process-wide instance that makes real system calls.
  static KvmSys& real();

  /// open(path, O_RDWR | O_CLOEXEC): the fd, or -errno.
  virtual int open_device(const char* path);
  /// ioctl(2): its result, or -errno. EINTR is retried, except for KVM_RUN (a kick).
  virtual int ioctl(int fd, unsigned long request, void* arg);
  /// A shared mapping of a KVM fd (the vCPU run structure).
  virtual Expected<Mapping> map(int fd, size_t size, off_t offset);
};

}  // namespace ferry::kvm

#include "ferry/mshv/mshv_driver.h"

#include <cpuid.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "ferry/mshv/mshv_abi.h"

namespace ferry::mshv {

MshvDriver& MshvDriver::real() {
  static MshvDriver driver;
  return driver;
}

int MshvDriver::open_device(const char* path) {
  int fd = ::open(path, O_RDWR | O_CLOEXEC);
  return fd >= 0 ? fd : -errno;
}

int MshvDriver::ioctl(int fd, unsigned long request, void* arg) {
  for (;;) {
    int result = ::ioctl(fd, request, arg);
    if (result >= 0) return result;
    if (errno != EINTR || request == kMshvRunVp) return -errno;
  }
}

Expected<Mapping> MshvDriver::map_vp_page(int vp_fd, size_t size, unsigned page) {
  const auto page_size = static_cast<off_t>(::sysconf(_SC_PAGESIZE));
  return Mapping::of_fd(vp_fd, size, PROT_READ | PROT_WRITE, page * page_size);
}

CpuidRegs MshvDriver::host_cpuid(uint32_t leaf, uint32_t subleaf) {
  CpuidRegs r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

}  // namespace ferry::mshv

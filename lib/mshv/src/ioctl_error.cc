#include "ioctl_error.h"

#include <cerrno>

#include "ferry/mshv/mshv_abi.h"

namespace ferry::mshv {

Error ioctl_error(int err, unsigned long request, std::string_view what) {
  const char* name = mshv_ioctl_name(request);
  if (err == ENOTTY) {
    return Error(Errc::kUnsupported,
                 fmt::format("{} {}: this kernel's /dev/mshv does not know {} (request {:#x}); "
                             "ferry needs the upstream MSHV ABI of Linux 6.15 or newer",
                             name, what, name, request),
                 err);
  }
  return Error::from_errno(err, fmt::format("{} {}", name, what));
}

}  // namespace ferry::mshv

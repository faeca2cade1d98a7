// Errors of failed /dev/mshv ioctls, worded for the person who has to fix the host.
#pragma once

#include <string_view>

#include "ferry/base/error.h"

namespace ferry::mshv {

/// "<ioctl> <what>: <strerror>"; ENOTTY (the kernel does not know the request) becomes an
/// unsupported-kernel error that names the ioctl and the kernel ferry needs.
Error ioctl_error(int err, unsigned long request, std::string_view what);

}  // namespace ferry::mshv

#include "ferry/base/error.h"

#include <cerrno>
#include <cstring>

namespace ferry {
namespace {

Errc errc_from_errno(int err) {
  switch (err) {
    case EINVAL:
    case ERANGE:
    case E2BIG:
      return Errc::kInvalidArgument;
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return Errc::kNotFound;
    case EEXIST:
      return Errc::kExists;
    case EBUSY:
    case EAGAIN:
      return Errc::kBusy;
    case ENOTTY:
    case EOPNOTSUPP:
    case ENOSYS:
      return Errc::kUnsupported;
    case EPERM:
    case EACCES:
      return Errc::kPermission;
    case ENOMEM:
    case ENOSPC:
    case EMFILE:
    case ENFILE:
      return Errc::kNoResources;
    default:
      return Errc::kIo;
  }
}

}  // namespace

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument:
      return "invalid argument";
    case Errc::kNotFound:
      return "not found";
    case Errc::kExists:
      return "already exists";
    case Errc::kBusy:
      return "busy";
    case Errc::kUnsupported:
      return "unsupported";
    case Errc::kPermission:
      return "permission denied";
    case Errc::kNoResources:
      return "out of resources";
    case Errc::kIo:
      return "I/O error";
    case Errc::kGuestFault:
      return "guest fault";
    case Errc::kInternal:
      return "internal error";
  }
  return "unknown";
}

Error Error::from_errno(int err, std::string_view what) {
  return Error(errc_from_errno(err),
               fmt::format("{}: {} (errno {})", what, std::strerror(err), err), err);
}

Error Error::context(std::string_view outer) const& {
  return Error(code_, fmt::format("{}: {}", outer, message_), sys_errno_);
}

Error Error::context(std::string_view outer) && {
  message_.insert(0, fmt::format("{}: ", outer));
  return std::move(*this);
}

}  // namespace ferry

// What each thread role may call, with the reason where it is not obvious.
#pragma once

#include <vector>

#include "ferry/sandbox/thread_filter.h"

namespace ferry::sandbox {

struct AllowedCall {
  int number;
  const char* why;
};

/// The calls `role` may make without restriction (ioctl is not among them: see ioctl_types()).
std::vector<AllowedCall> allow_list(Role role);

}  // namespace ferry::sandbox

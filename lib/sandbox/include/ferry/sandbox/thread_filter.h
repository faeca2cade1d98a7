// Seccomp filters per thread role. A thread confines itself (the filter is loaded without
// TSYNC, so it binds the calling thread and the threads it creates afterwards, no other).
// A forbidden call raises SIGSYS; the handler prints which thread made which call and ends
// ferry with kForbiddenCallExitStatus (docs/seccomp.md, docs/cli.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ferry/base/error.h"

namespace ferry::sandbox {

enum class Role : uint8_t { kVcpu, kEventLoop, kMain };

/// 128 + SIGSYS, as a shell reports a process SIGSYS killed.
constexpr int kForbiddenCallExitStatus = 159;

/// Once per process, before any thread confines itself: the SIGSYS handler, the table of
/// system call names it prints from, and the time zone (so logging never opens a file later).
Expected<void> prepare_process();

/// Loads `role`'s filter on the calling thread. `who` names the thread in the report
/// ("vCPU 0", "event loop", "main"); at most 31 characters are kept.
Expected<void> confine_this_thread(Role role, std::string_view who);

/// The names of the system calls `role` may make (ioctl only with the types of ioctl_types()).
std::vector<std::string> allowed_calls(Role role);
/// The ioctl type bytes every role may use: KVM, MSHV and VFIO.
std::vector<unsigned> ioctl_types();

}  // namespace ferry::sandbox

#include "ferry/sandbox/thread_filter.h"

#include <sys/mman.h>
#include <sys/syscall.h>

#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <mutex>

#include "allow_lists.h"
#include "forbidden_call_report.h"

namespace ferry::sandbox {
namespace {

constexpr unsigned kKvmIoctlType = 0xAE;   // KVMIO, <linux/kvm.h>
constexpr unsigned kMshvIoctlType = 0xB8;  // MSHV_IOCTL, <linux/mshv.h>
constexpr unsigned kVfioIoctlType = ';';   // VFIO_TYPE, <linux/vfio.h>

std::atomic<bool> g_prepared{false};

struct FilterRelease {
  void operator()(void* filter) const { seccomp_release(filter); }
};

std::string call_name(int number) {
  char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, number);
  std::string text = name != nullptr ? name : std::to_string(number);
  std::free(name);
  return text;
}

}  // namespace

std::vector<unsigned> ioctl_types() { return {kKvmIoctlType, kMshvIoctlType, kVfioIoctlType}; }

Expected<void> prepare_process() {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  if (g_prepared.load()) return {};
  // Reads the zone file now: localtime_r in a log line would otherwise open it later.
  ::tzset();
  FERRY_TRY(install_forbidden_call_report());
  g_prepared.store(true);
  return {};
}

Expected<void> confine_this_thread(Role role, std::string_view who) {
  if (!g_prepared.load()) {
    return fail(Errc::kInternal, "seccomp: prepare_process() was not called before confining {}",
                who);
  }
  std::unique_ptr<void, FilterRelease> filter(seccomp_init(SCMP_ACT_TRAP));
  if (!filter) return fail(Errc::kInternal, "seccomp_init failed for the {} thread", who);
  for (const AllowedCall& call : allow_list(role)) {
    // Memory a confined thread maps or reprotects is never executable: a compromised device
    // model cannot make itself code to run (W^X).
    const bool prot_in_arg2 = call.number == SYS_mmap || call.number == SYS_mprotect;
    const int r = prot_in_arg2 ? seccomp_rule_add(filter.get(), SCMP_ACT_ALLOW, call.number, 1,
                                                  SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))
                               : seccomp_rule_add(filter.get(), SCMP_ACT_ALLOW, call.number, 0);
    if (r < 0) {
      return fail_errno(
          -r, fmt::format("seccomp: allowing {} to the {} thread", call_name(call.number), who));
    }
  }
  for (unsigned type : ioctl_types()) {
    // An ioctl request keeps its type in bits 8-15 (_IOC_TYPESHIFT).
    const int r = seccomp_rule_add(filter.get(), SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                                   SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00, type << 8));
    if (r < 0) return fail_errno(-r, fmt::format("seccomp: allowing ioctl type {:#x}", type));
  }
  if (role == Role::kMain) {
    // Restoring the console's terminal mode (ferry run's serial: stdio) when the VM ends: this
    // one request, on stdin only.
    const int r =
        seccomp_rule_add(filter.get(), SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
                         SCMP_A0(SCMP_CMP_EQ, STDIN_FILENO), SCMP_A1(SCMP_CMP_EQ, TCSETS));
    if (r < 0) return fail_errno(-r, "seccomp: allowing ioctl TCSETS on stdin");
  }
  name_this_thread(who);
  // A blocked SIGSYS would kill the thread's process without the report.
  sigset_t sigsys;
  sigemptyset(&sigsys);
  sigaddset(&sigsys, SIGSYS);
  if (int err = pthread_sigmask(SIG_UNBLOCK, &sigsys, nullptr); err != 0) {
    return fail_errno(err, "pthread_sigmask(SIGSYS)");
  }
  if (int r = seccomp_load(filter.get()); r < 0) {
    return fail_errno(-r, fmt::format("seccomp: loading the {} thread's filter", who));
  }
  return {};
}

std::vector<std::string> allowed_calls(Role role) {
  std::vector<std::string> names;
  for (const AllowedCall& call : allow_list(role)) names.push_back(call_name(call.number));
  return names;
}

}  // namespace ferry::sandbox

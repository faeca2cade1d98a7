#include "allow_lists.h"

#include <sys/syscall.h>

#include <iterator>

namespace ferry::sandbox {
namespace {

// Every thread: memory, locks, time, logging, signals and its own end.
constexpr AllowedCall kEveryThread[] = {
    {SYS_read, "eventfds, the signalfd, the console's stdin (main thread)"},
    {SYS_write, "log lines, the serial output, eventfd signals"},
    {SYS_writev, "stdio may gather a buffered line and the rest in one call"},
    {SYS_fstat, "stdio asks a stream's type before its first write"},
    {SYS_newfstatat, "fstat as glibc 2.33+ spells it"},
    {SYS_close, "file descriptors released by whichever thread holds the last owner"},
    {SYS_futex, "mutexes, condition variables, thread joins"},
    {SYS_mmap, "malloc's large blocks and new arenas (never executable: see thread_filter.cc)"},
    {SYS_munmap, "malloc returning large blocks; guest memory at teardown"},
    {SYS_mremap, "realloc of large blocks"},
    {SYS_brk, "malloc's main heap"},
    {SYS_madvise, "malloc trimming arenas; glibc freeing an ending thread's stack"},
    {SYS_mprotect, "malloc growing a thread arena (never executable)"},
    {SYS_clock_gettime, "timestamps when the vDSO falls back to the system call"},
    {SYS_gettimeofday, "as clock_gettime"},
    {SYS_clock_nanosleep, nullptr},
    {SYS_nanosleep, nullptr},
    {SYS_sched_yield, "spinning locks in the C++ runtime"},
    {SYS_getpid, "pthread_kill passes the process id to tgkill"},
    {SYS_gettid, nullptr},
    {SYS_tgkill, "kicking a vCPU thread out of the guest (any thread may end the VM)"},
    {SYS_rt_sigprocmask, "glibc masks signals around thread exit and abort"},
    {SYS_rt_sigreturn, "returning from the kick signal's handler"},
    {SYS_restart_syscall, "a sleep resumed after a signal"},
    {SYS_exit, "a thread ending"},
    {SYS_exit_group, "the process ending, also from the SIGSYS report"},
};

// vCPU threads: run the guest and do its device accesses.
constexpr AllowedCall kVcpu[] = {
    {SYS_pread64, "an assigned device's config space and BARs through its VFIO region"},
    {SYS_pwrite64, "as pread64"},
    {SYS_eventfd2, "an MSI-X vector's eventfd, made when the guest first enables it"},
    {SYS_epoll_ctl, "a masked vector's eventfd handed to the event loop and back"},
};

// The interrupt event loop: waits on masked vectors' eventfds.
constexpr AllowedCall kEventLoop[] = {
    {SYS_epoll_wait, nullptr},
    {SYS_epoll_pwait, "epoll_wait as some glibc builds spell it"},
    {SYS_epoll_ctl, nullptr},
    {SYS_pread64, "an assigned device's registers, from a vector's callback"},
    {SYS_pwrite64, "as pread64"},
};

// The main thread once the VM runs: waits for its end or a signal, then tears it down.
constexpr AllowedCall kMain[] = {
    {SYS_poll, "waiting on the signalfd, the VM's done eventfd and the console's stdin"},
    {SYS_ppoll, "poll as some glibc builds spell it"},
    {SYS_lseek, "rereading /proc/self/status (opened before the filter) for --stats"},
    {SYS_mincore, "counting the guest's resident pages for --stats"},
    {SYS_epoll_ctl, "assigned devices' eventfds unwatched at teardown"},
    {SYS_pread64, "assigned devices' registers at teardown"},
    {SYS_pwrite64, "as pread64"},
};

template <size_t N>
void append(std::vector<AllowedCall>& to, const AllowedCall (&calls)[N]) {
  to.insert(to.end(), std::begin(calls), std::end(calls));
}

}  // namespace

std::vector<AllowedCall> allow_list(Role role) {
  std::vector<AllowedCall> calls;
  append(calls, kEveryThread);
  switch (role) {
    case Role::kVcpu:
      append(calls, kVcpu);
      break;
    case Role::kEventLoop:
      append(calls, kEventLoop);
      break;
    case Role::kMain:
      append(calls, kMain);
      break;
  }
  return calls;
}

}  // namespace ferry::sandbox

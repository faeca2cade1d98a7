// The filters of lib/sandbox on real threads: a call a role's list forbids stops the process
// with a message naming the thread and the call; the calls the role needs go through; a filter
// binds only the thread that loaded it.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "ferry/sandbox/thread_filter.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry::sandbox {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Runs `body` on a new thread confined to `role` (named `who`) in a child process; the child
// prints "survived" and exits 0 if nothing stopped it.
test::ProcessResult run_confined(Role role, const char* who, const std::function<void()>& body) {
  test::TempDir dir;
  return test::run_in_child(
      [&] {
        if (!prepare_process()) return 90;
        int status = 0;
        std::thread thread([&] {
          if (!confine_this_thread(role, who)) {
            status = 91;
            return;
          }
          body();
        });
        thread.join();
        if (status == 0) std::printf("survived\n");
        std::fflush(stdout);
        return status;
      },
      dir.path(), 20s);
}

void open_a_socket() {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd >= 0) ::close(fd);
}

TEST(ThreadFilter, AForbiddenCallFromAVcpuThreadStopsFerryNamingTheThreadAndTheCall) {
  test::ProcessResult r = run_confined(Role::kVcpu, "vCPU 0", open_a_socket);
  EXPECT_EQ(r.exit_status, kForbiddenCallExitStatus) << r.err;
  EXPECT_EQ(r.err,
            "ferry: seccomp: the vCPU 0 thread made system call socket (41), which its filter "
            "forbids; stopping (see docs/seccomp.md; --seccomp off to debug)\n");
  EXPECT_EQ(r.out, "");
}

TEST(ThreadFilter, AVcpuThreadMakesTheCallsItsWorkNeeds) {
  test::ProcessResult r = run_confined(Role::kVcpu, "vCPU 1", [] {
    std::vector<char> big(8 << 20, 1);  // malloc through mmap and munmap
    const int fd = ::eventfd(0, EFD_CLOEXEC);
    const uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
    uint64_t value = 0;
    (void)!::pread(fd, &value, sizeof value, 0);  // the VFIO region access path (ESPIPE here)
    (void)::ioctl(fd, KVM_RUN, 0);                // a KVM request on a non-KVM fd: ENOTTY
    ::close(fd);
    std::mutex mutex;
    std::condition_variable never;
    std::unique_lock lock(mutex);
    never.wait_for(lock, 1ms);  // futex with a timeout
    std::printf("big %c\n", big.back());
  });
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out, "big \x01\nsurvived\n");
}

TEST(ThreadFilter, AConfinedThreadMapsNothingExecutable) {
  test::ProcessResult writable = run_confined(Role::kVcpu, "vCPU 1", [] {
    void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page != MAP_FAILED) ::munmap(page, 4096);
  });
  EXPECT_EQ(writable.exit_status, 0) << writable.err;
  test::ProcessResult executable = run_confined(Role::kVcpu, "vCPU 1", [] {
    (void)::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  });
  EXPECT_EQ(executable.exit_status, kForbiddenCallExitStatus) << executable.err;
  EXPECT_THAT(executable.err, HasSubstr("the vCPU 1 thread made system call mmap (9)"));
  test::ProcessResult reprotected = run_confined(Role::kEventLoop, "event loop", [] {
    static char page[4096] __attribute__((aligned(4096)));
    (void)::mprotect(page, sizeof page, PROT_READ | PROT_EXEC);
  });
  EXPECT_EQ(reprotected.exit_status, kForbiddenCallExitStatus) << reprotected.err;
  EXPECT_THAT(reprotected.err, HasSubstr("made system call mprotect (10)"));
}

TEST(ThreadFilter, IoctlsGoThroughOnlyForKvmMshvAndVfio) {
  test::ProcessResult r = run_confined(Role::kVcpu, "vCPU 2", [] {
    int bytes = 0;
    (void)::ioctl(STDIN_FILENO, FIONREAD, &bytes);
  });
  EXPECT_EQ(r.exit_status, kForbiddenCallExitStatus) << r.err;
  EXPECT_THAT(r.err, HasSubstr("the vCPU 2 thread made system call ioctl (16) with request "
                               "0x541b, which its filter forbids"));
}

// The console's terminal mode is restored by the main thread after the VM ends: TCSETS on stdin
// goes through (ENOTTY when stdin is no terminal, but not trapped); on another descriptor, from
// another role, or another terminal request it traps.
void set_terminal_mode(int fd) {
  termios mode{};
  (void)::ioctl(fd, TCSETS, &mode);
}

TEST(ThreadFilter, OnlyTheMainThreadRestoresATerminalAndOnlyOnStdin) {
  test::ProcessResult main = run_confined(Role::kMain, "main", [] { set_terminal_mode(0); });
  EXPECT_EQ(main.exit_status, 0) << main.err;
  EXPECT_EQ(main.out, "survived\n");
  test::ProcessResult other_fd = run_confined(Role::kMain, "main", [] { set_terminal_mode(1); });
  EXPECT_EQ(other_fd.exit_status, kForbiddenCallExitStatus) << other_fd.err;
  EXPECT_THAT(other_fd.err, HasSubstr("made system call ioctl (16) with request 0x5402"));
  test::ProcessResult vcpu = run_confined(Role::kVcpu, "vCPU 0", [] { set_terminal_mode(0); });
  EXPECT_EQ(vcpu.exit_status, kForbiddenCallExitStatus) << vcpu.err;
  test::ProcessResult read_mode = run_confined(Role::kMain, "main", [] {
    termios mode{};
    (void)::ioctl(0, TCGETS, &mode);
  });
  EXPECT_EQ(read_mode.exit_status, kForbiddenCallExitStatus) << read_mode.err;
  EXPECT_THAT(read_mode.err, HasSubstr("with request 0x5401"));
}

TEST(ThreadFilter, AFilterBindsOnlyTheThreadThatLoadedIt) {
  test::TempDir dir;
  test::ProcessResult r = test::run_in_child(
      [] {
        if (!prepare_process()) return 90;
        std::thread([] { (void)confine_this_thread(Role::kVcpu, "vCPU 0"); }).join();
        open_a_socket();  // this thread has no filter
        std::printf("survived\n");
        std::fflush(stdout);
        return 0;
      },
      dir.path(), 20s);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out, "survived\n");
}

TEST(ThreadFilter, TheEventLoopMayWaitButNotOpenFiles) {
  test::ProcessResult waits = run_confined(Role::kEventLoop, "event loop", [] {
    const int epoll = ::epoll_create1(EPOLL_CLOEXEC);  // made before, in the real loop
    epoll_event events[1];
    (void)::epoll_wait(epoll, events, 1, 0);
  });
  // epoll_create1 is the event loop's setup, made before its filter: here it is forbidden.
  EXPECT_EQ(waits.exit_status, kForbiddenCallExitStatus) << waits.err;
  EXPECT_THAT(waits.err, HasSubstr("the event loop thread made system call epoll_create1"));

  test::ProcessResult opens = run_confined(Role::kEventLoop, "event loop", [] {
    epoll_event events[1];
    (void)::epoll_wait(-1, events, 1, 0);  // EBADF, but allowed
    (void)::open("/etc/hostname", O_RDONLY | O_CLOEXEC);
  });
  EXPECT_EQ(opens.exit_status, kForbiddenCallExitStatus) << opens.err;
  EXPECT_THAT(opens.err, HasSubstr("the event loop thread made system call openat (257)"));
}

TEST(ThreadFilter, TheMainThreadMayWaitAndFreeButNotMakeEventfdsOrProcesses) {
  test::ProcessResult makes_an_eventfd = run_confined(Role::kMain, "main", [] {
    const int fd = ::eventfd(0, EFD_CLOEXEC);  // eventfd2 is forbidden: the main thread makes none
    ::close(fd);
  });
  EXPECT_EQ(makes_an_eventfd.exit_status, kForbiddenCallExitStatus) << makes_an_eventfd.err;
  EXPECT_THAT(makes_an_eventfd.err, HasSubstr("the main thread made system call eventfd2 (290)"));

  test::ProcessResult forks = run_confined(Role::kMain, "main", [] {
    pollfd none{};
    (void)::poll(&none, 0, 0);
    void* memory = std::malloc(1 << 20);
    std::free(memory);
    (void)::syscall(SYS_clone, 0, 0, 0, 0, 0);
  });
  EXPECT_EQ(forks.exit_status, kForbiddenCallExitStatus) << forks.err;
  EXPECT_THAT(forks.err, HasSubstr("the main thread made system call clone (56)"));
}

TEST(ThreadFilter, ConfiningBeforePreparingIsRefused) {
  test::TempDir dir;
  test::ProcessResult r = test::run_in_child(
      [] {
        auto confined = confine_this_thread(Role::kVcpu, "vCPU 0");
        if (confined) return 1;
        std::fprintf(stderr, "%s\n", confined.error().message().c_str());
        return 0;
      },
      dir.path(), 20s);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_THAT(r.err, HasSubstr("prepare_process() was not called"));
}

TEST(ThreadFilter, EveryRoleListsItsCalls) {
  for (Role role : {Role::kVcpu, Role::kEventLoop, Role::kMain}) {
    const std::vector<std::string> calls = allowed_calls(role);
    EXPECT_THAT(calls, ::testing::Contains("futex"));
    EXPECT_THAT(calls, ::testing::Not(::testing::Contains("socket")));
    EXPECT_THAT(calls, ::testing::Not(::testing::Contains("openat")));
    EXPECT_THAT(calls, ::testing::Not(::testing::Contains("execve")));
  }
  EXPECT_THAT(allowed_calls(Role::kVcpu), ::testing::Contains("pwrite64"));
  EXPECT_THAT(allowed_calls(Role::kMain), ::testing::Not(::testing::Contains("eventfd2")));
}

}  // namespace
}  // namespace ferry::sandbox

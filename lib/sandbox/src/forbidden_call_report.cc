#include "forbidden_call_report.h"

#include <seccomp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "ferry/sandbox/thread_filter.h"

namespace ferry::sandbox {
namespace {

// Filled before any thread is confined and only read afterwards: the handler may not call
// libseccomp's resolver, which allocates.
constexpr int kNamedCalls = 512;
std::array<const char*, kNamedCalls> g_call_names{};

thread_local char t_thread_name[32] = "unnamed";

// A message assembled without allocation, for a signal handler.
class Line {
 public:
  void add(const char* text) {
    while (*text != '\0' && size_ < sizeof text_) text_[size_++] = *text++;
  }
  void add_number(unsigned long value, unsigned base) {
    char digits[24];
    size_t n = 0;
    do {
      digits[n++] = "0123456789abcdef"[value % base];
      value /= base;
    } while (value != 0);
    while (n > 0 && size_ < sizeof text_) text_[size_++] = digits[--n];
  }
  void write_to(int fd) const {
    size_t done = 0;
    while (done < size_) {
      const ssize_t n = ::write(fd, text_ + done, size_ - done);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }

 private:
  char text_[320];
  size_t size_ = 0;
};

void report_forbidden_call(int, siginfo_t* info, void* context) {
  const int number = info->si_syscall;
  const char* name = number >= 0 && number < kNamedCalls ? g_call_names[number] : nullptr;
  Line line;
  line.add("ferry: seccomp: the ");
  line.add(t_thread_name);
  line.add(" thread made system call ");
  line.add(name != nullptr ? name : "unknown");
  line.add(" (");
  line.add_number(static_cast<unsigned>(number), 10);
  line.add(")");
  if (number == SYS_ioctl) {
    // The request is the second argument, in rsi at the time of the call.
    const auto* uc = static_cast<const ucontext_t*>(context);
    line.add(" with request 0x");
    line.add_number(static_cast<unsigned long>(uc->uc_mcontext.gregs[REG_RSI]) & 0xffffffffu, 16);
  }
  line.add(", which its filter forbids; stopping (see docs/seccomp.md; --seccomp off to debug)\n");
  line.write_to(STDERR_FILENO);
  ::_exit(kForbiddenCallExitStatus);
}

}  // namespace

Expected<void> install_forbidden_call_report() {
  for (int number = 0; number < kNamedCalls; ++number) {
    if (g_call_names[number] != nullptr) continue;
    // Kept for the life of the process: the handler may need any of them at any time.
    g_call_names[number] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, number);
  }
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_sigaction = report_forbidden_call;
  action.sa_flags = SA_SIGINFO;
  sigfillset(&action.sa_mask);  // nothing interrupts the report
  if (::sigaction(SIGSYS, &action, nullptr) != 0) return fail_errno(errno, "sigaction(SIGSYS)");
  return {};
}

void name_this_thread(std::string_view who) {
  const size_t n = std::min(who.size(), sizeof t_thread_name - 1);
  std::memcpy(t_thread_name, who.data(), n);
  t_thread_name[n] = '\0';
}

}  // namespace ferry::sandbox

// ferry run: build the VM from its spec, run it until it ends, exit with its status.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <optional>
#include <span>

#include "commands.h"
#include "console.h"
#include "dma_progress.h"
#include "ferry/base/unique_fd.h"
#include "ferry/sandbox/thread_filter.h"
#include "ferry/vmm/machine.h"
#include "open_hypervisor.h"
#include "spec_options.h"

namespace ferry::cli {
namespace {

namespace po = boost::program_options;

constexpr const char* kUsage =
    "Usage: ferry run <vm.yaml> [options]\n"
    "Builds the VM the spec describes and runs it until it ends. The exit status is the "
    "guest's\n(see docs/cli.md).";

// A field of /proc/self/status such as "VmHWM", in KiB. The file is opened before the main
// thread's seccomp filter (which forbids opening files) and read from the start each time.
uint64_t proc_status_kib(int status_fd, const std::string& field) {
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::pread(status_fd, buffer, sizeof buffer, static_cast<off_t>(text.size()))) > 0) {
    text.append(buffer, static_cast<size_t>(n));
  }
  const size_t at = text.find("\n" + field + ":");
  if (at == std::string::npos) return 0;
  return std::strtoull(text.c_str() + at + field.size() + 2, nullptr, 10);
}

void print_stats(const vmm::Machine& machine, int status_fd) {
  const vmm::MachineStats s = machine.stats();
  const uint64_t hwm = proc_status_kib(status_fd, "VmHWM");
  const uint64_t guest = s.guest_resident_bytes / 1024;
  std::cerr << fmt::format(
      "{{\"exits\":{},\"pio\":{},\"mmio\":{},\"unclaimed\":{},\"rss_hwm_kib\":{},"
      "\"guest_resident_kib\":{},\"overhead_kib\":{}}}\n",
      s.exits, s.io.pio, s.io.mmio, s.io.unclaimed, hwm, guest, hwm > guest ? hwm - guest : 0);
}

// Blocks SIGINT, SIGTERM and SIGHUP (a closed terminal) in this thread (and so in every vCPU
// thread made after) and returns a signalfd that reads them.
Expected<UniqueFd> take_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  if (int err = pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0) {
    return fail_errno(err, "pthread_sigmask");
  }
  int fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) return fail_errno(errno, "signalfd");
  return UniqueFd(fd);
}

// Waits until the VM ends by itself, a termination signal asks it to, or the user quits at the
// console; meanwhile moves the console's input (serial: stdio) to COM1.
void wait_for_end_or_signal(vmm::Machine& machine, int signal_fd, ConsolePump* console) {
  pollfd fds[3] = {{signal_fd, POLLIN, 0}, {machine.done_fd(), POLLIN, 0}, {-1, POLLIN, 0}};
  for (;;) {
    fds[2].fd = console ? console->poll_fd() : -1;  // poll skips a negative descriptor
    if (::poll(fds, 3, console ? console->timeout_ms() : -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("poll: {}", std::strerror(errno));
      machine.stop(SIGTERM);
      return;
    }
    if (fds[1].revents) return;
    if (fds[0].revents) {
      signalfd_siginfo info{};
      if (::read(signal_fd, &info, sizeof info) == sizeof info) {
        spdlog::info("{} received; stopping the VM", strsignal(static_cast<int>(info.ssi_signo)));
        machine.stop(static_cast<int>(info.ssi_signo));
        return;
      }
    }
    if (console == nullptr) continue;
    if (fds[2].revents) {
      switch (console->read_input()) {
        case EscapeFilter::Action::kQuit:
          machine.quit();
          return;
        case EscapeFilter::Action::kHelp:
          (void)!::write(STDERR_FILENO, console_help(), std::strlen(console_help()));
          break;
        case EscapeFilter::Action::kNone:
          break;
      }
      if (console->at_eof()) spdlog::debug("the console's input ended; the guest runs on");
    }
    console->deliver([&](std::span<const uint8_t> bytes) { return machine.console_input(bytes); });
  }
}

// With --debug-forbidden-call (docs/seccomp.md): vCPU 0's thread makes a call its filter
// forbids, right after loading it, so that a test can watch the filter stop ferry.
void make_forbidden_call() {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) ::close(fd);  // with --seccomp off the call succeeds and changes nothing
}

// Each thread of the VM loads its own filter once its setup is done (docs/seccomp.md).
vmm::ThreadHooks thread_hooks(bool confine, bool forbidden_call) {
  vmm::ThreadHooks hooks;
  hooks.vcpu = [confine, forbidden_call](unsigned index) -> Expected<void> {
    if (confine) {
      FERRY_TRY(sandbox::confine_this_thread(sandbox::Role::kVcpu, fmt::format("vCPU {}", index)));
    }
    if (forbidden_call && index == 0) make_forbidden_call();
    return {};
  };
  if (confine) {
    hooks.event_loop = [] {
      return sandbox::confine_this_thread(sandbox::Role::kEventLoop, "event loop");
    };
  }
  return hooks;
}

// --seccomp: "on" (the default) or "off".
std::optional<bool> parse_seccomp(const std::string& text) {
  if (text == "on") return true;
  if (text == "off") return false;
  spdlog::error("--seccomp {}: expected on or off", text);
  return std::nullopt;
}

void log_outcome(const vmm::Outcome& outcome) {
  using Reason = vmm::Outcome::Reason;
  const std::string text = vmm::describe(outcome);
  switch (outcome.reason) {
    case Reason::kGuestExit:
      spdlog::debug("{}", text);
      break;
    case Reason::kPowerOff:
    case Reason::kHalted:
    case Reason::kStopped:
    case Reason::kQuit:
      spdlog::info("{}", text);
      break;
    case Reason::kReset:
      spdlog::warn("{}", text);
      break;
    case Reason::kError:
      spdlog::error("{}", text);
      break;
  }
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  SpecOptions spec;
  std::string accel_text = "auto";
  bool stats = false;
  std::string seccomp_text = "on";
  bool forbidden_call = false;
  po::options_description options("Options");
  po::options_description hidden;
  options.add_options()("help,h", "show this help")(
      "accel", po::value(&accel_text)->default_value("auto")->value_name("NAME"),
      "accelerator: auto (the one this host has), kvm or mshv")(
      "stats", po::bool_switch(&stats),
      "print exit counts and memory use as JSON on stderr at the end")(
      "seccomp", po::value(&seccomp_text)->default_value("on")->value_name("on|off"),
      "confine each thread to the system calls it makes (docs/seccomp.md); off only to debug");
  hidden.add_options()("debug-forbidden-call", po::bool_switch(&forbidden_call),
                       "vCPU 0 makes a system call its seccomp filter forbids (docs/seccomp.md)");
  add_spec_options(options, hidden, spec);
  if (auto done = parse_command_line("run", args, options, hidden, spec, kUsage)) return *done;

  auto accel = parse_accel(accel_text);
  if (!accel) {
    spdlog::error("{}", accel.error().message());
    return kExitUsage;
  }
  const std::optional<bool> confine = parse_seccomp(seccomp_text);
  if (!confine) return kExitUsage;
  std::optional<vmm::VmConfig> config = load_spec(spec);
  if (!config) return kExitUsage;
  // With stdin closed, descriptor 0 would soon be one of the VM's own (an eventfd, /dev/kvm).
  const bool interactive =
      config->serial.mode == vmm::SerialMode::kStdio && ::fcntl(STDIN_FILENO, F_GETFD) >= 0;
  if (config->serial.mode == vmm::SerialMode::kStdio && !interactive) {
    spdlog::warn("serial: stdio, but stdin is closed: the guest gets no input");
  }
  if (*confine) {
    if (auto prepared = sandbox::prepare_process(); !prepared) {
      spdlog::error("{}", prepared.error().message());
      return kExitFailure;
    }
  } else {
    spdlog::warn(
        "SECCOMP IS OFF (--seccomp off): every ferry thread may make any system call, so a "
        "compromised vCPU thread is not contained. Use this only to debug a forbidden call.");
  }
  UniqueFd status_fd;
  if (stats) status_fd = UniqueFd(::open("/proc/self/status", O_RDONLY | O_CLOEXEC));

  ::signal(SIGPIPE, SIG_IGN);  // a closed stdout must not kill the VMM mid-teardown
  auto signal_fd = take_termination_signals();
  if (!signal_fd) {
    spdlog::error("{}", signal_fd.error().message());
    return kExitFailure;
  }
  auto hypervisor = open_hypervisor(*accel);
  if (!hypervisor) {
    spdlog::error("{}", hypervisor.error().message());
    return kExitFailure;
  }
  auto machine = vmm::Machine::create(**hypervisor, *config,
                                      {.populate_threads = 0,
                                       .dma_progress = dma_progress_line(),
                                       .thread_hooks = thread_hooks(*confine, forbidden_call)});
  if (!machine) {
    spdlog::error("VM {}: {}", config->name, machine.error().message());
    return kExitFailure;
  }
  spdlog::debug("VM {}: {} vCPU(s), {} of memory, starting", config->name, config->vcpus,
                format_size(config->memory_size));
  // Declared after the machine, so the terminal is restored before the VM is torn down.
  RawTerminal terminal(interactive ? STDIN_FILENO : -1);
  std::optional<ConsolePump> console;
  if (interactive) console.emplace(STDIN_FILENO, terminal.active());
  if (terminal.active()) {
    spdlog::info("console on this terminal: Ctrl-A x quits, Ctrl-A h for help");
  }
  (*machine)->start();
  if (*confine) {
    // After start: the vCPU threads exist and confine themselves, and they inherit no filter.
    if (auto confined = sandbox::confine_this_thread(sandbox::Role::kMain, "main"); !confined) {
      spdlog::error("{}", confined.error().message());
      (*machine)->stop(SIGTERM);
      (void)(*machine)->wait();
      return kExitFailure;
    }
  }
  wait_for_end_or_signal(**machine, signal_fd->get(), console ? &*console : nullptr);
  const vmm::Outcome outcome = (*machine)->wait();
  log_outcome(outcome);
  if (vmm::ended_abnormally(outcome))
    std::cerr << vmm::format_console_tail((*machine)->console_tail());
  if (stats) print_stats(**machine, status_fd.get());
  return vmm::exit_status(outcome);
}

}  // namespace ferry::cli

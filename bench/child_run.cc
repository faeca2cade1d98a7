#include "child_run.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <functional>

namespace ferry::bench {
namespace {

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// A child with its stdout and stderr on pipes (read ends in `fds`, stdin /dev/null if asked).
struct Spawned {
  pid_t pid = -1;
  pollfd fds[2] = {{-1, POLLIN, 0}, {-1, POLLIN, 0}};
  int open_fds = 0;
};

Spawned spawn(const std::vector<std::string>& argv, bool stdin_from_null) {
  Spawned child;
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return child;
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return child;
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  child.pid = ::fork();
  if (child.pid == 0) {
    if (stdin_from_null) ::dup2(::open("/dev/null", O_RDONLY), 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (child.pid < 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return child;
  }
  child.fds[0].fd = out_pipe[0];
  child.fds[1].fd = err_pipe[0];
  child.open_fds = 2;
  return child;
}

// One poll of the child's pipes (up to `timeout_ms`, -1: no limit): what arrived is appended to
// `out` or `err`, a pipe at its end is closed, and `on_stdout` runs before stdout grows. False
// when poll fails.
bool pump(Spawned& child, int timeout_ms, std::string& out, std::string& err,
          const std::function<void()>& on_stdout) {
  if (::poll(child.fds, 2, timeout_ms) < 0) return false;
  char buffer[4096];
  for (int i = 0; i < 2; ++i) {
    pollfd& f = child.fds[i];
    if (f.fd < 0 || !f.revents) continue;
    const ssize_t n = ::read(f.fd, buffer, sizeof buffer);
    if (n <= 0) {
      ::close(f.fd);
      f.fd = -1;
      --child.open_fds;
      continue;
    }
    if (i == 0) on_stdout();
    (i == 0 ? out : err).append(buffer, static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

ChildRun run_child(const std::vector<std::string>& argv) {
  ChildRun result;
  const auto start = std::chrono::steady_clock::now();
  Spawned child = spawn(argv, false);
  if (child.pid < 0) return result;
  auto first_output = [&] {
    if (result.first_output_ms < 0) result.first_output_ms = ms_since(start);
  };
  while (child.open_fds > 0 && pump(child, -1, result.out, result.err, first_output)) {
  }
  int status = 0;
  rusage usage{};
  ::wait4(child.pid, &status, 0, &usage);
  result.total_ms = ms_since(start);
  result.peak_rss_kib = usage.ru_maxrss;
  result.ok = WIFEXITED(status);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

WatchedRun run_child_until(const std::vector<std::string>& argv,
                           const std::function<bool(const std::string&)>& until, int timeout_ms,
                           int grace_ms) {
  WatchedRun result;
  const auto start = std::chrono::steady_clock::now();
  Spawned child = spawn(argv, true);
  if (child.pid < 0) return result;
  result.started = true;
  // Read until both pipes close or the deadline: the timeout, then the grace after `until`.
  double deadline_ms = timeout_ms;
  bool stdout_grew = false;  // `until` is asked again only then
  auto watch = [&] { stdout_grew = true; };
  while (child.open_fds > 0) {
    const double left = deadline_ms - ms_since(start);
    if (left <= 0) break;
    if (!pump(child, static_cast<int>(left) + 1, result.out, result.err, watch)) break;
    if (stdout_grew && result.until_ms < 0 && until(result.out)) {
      result.until_ms = ms_since(start);
      deadline_ms = result.until_ms + grace_ms;
    }
    stdout_grew = false;
  }
  for (pollfd& f : child.fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  result.timed_out = result.until_ms < 0;
  // Its pipes closed (it is ending) or the deadline passed: reap it, killing it at the deadline.
  int status = 0;
  bool reaped = false;
  while (!reaped && ms_since(start) < deadline_ms) {
    reaped = ::waitpid(child.pid, &status, WNOHANG) == child.pid;
    if (!reaped) ::usleep(1000);
  }
  if (reaped) {
    result.ended_ms = ms_since(start);
  } else {
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, &status, 0);
  }
  result.status = reaped && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace ferry::bench

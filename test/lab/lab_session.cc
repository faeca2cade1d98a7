#include "lab_session.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <iostream>
#include <random>
#include <sstream>

#include "ferry/base/file.h"
#include "ferry/base/unique_fd.h"

namespace ferry::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kArrivedDamaged = 254;  // scripts/lab-init: the line's length was not the one sent

// The file as text; empty when it is missing (a session that never started has no pid file).
std::string read_text(const std::string& path) {
  constexpr uint64_t kMaxBytes = 64ull << 20;  // a console log, at most
  auto bytes = read_file(path, kMaxBytes);
  return bytes ? std::string(bytes->begin(), bytes->end()) : std::string();
}

std::string random_id() {
  std::random_device device;
  return fmt::format("{:08x}{:08x}", device(), device());
}

// Reads the lab's replies from the session's FIFO, a byte stream shared with earlier clients
// (one killed mid-reply leaves the rest of that reply behind: skip_to_line ignores it).
class ReplyReader {
 public:
  ReplyReader(int fd, Clock::time_point deadline, std::function<bool()> alive)
      : fd_(fd), deadline_(deadline), alive_(std::move(alive)) {}

  /// Skips everything up to a line starting with `prefix`; returns the rest of that line.
  Expected<std::string> skip_to_line(const std::string& prefix) {
    for (;;) {
      FERRY_ASSIGN(std::string line, read_line());
      if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
    }
  }
  Expected<std::string> read_bytes(size_t count) {
    while (buffer_.size() < count) FERRY_TRY(fill());
    std::string out = buffer_.substr(0, count);
    buffer_.erase(0, count);
    return out;
  }

 private:
  Expected<std::string> read_line() {
    for (;;) {
      const size_t end = buffer_.find('\n');
      if (end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return line;
      }
      FERRY_TRY(fill());
    }
  }
  Expected<void> fill() {
    for (;;) {
      if (Clock::now() > deadline_) {
        return fail(Errc::kIo, "the lab did not answer in time (the session may be hung)");
      }
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, 1000);
      if (ready < 0 && errno != EINTR) return fail_errno(errno, "poll on the lab session");
      if (ready > 0) {
        char chunk[4096];
        const ssize_t n = ::read(fd_, chunk, sizeof chunk);
        if (n > 0) {
          buffer_.append(chunk, static_cast<size_t>(n));
          return {};
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
          return fail_errno(errno, "reading from the lab session");
        }
      }
      if (!alive_()) return fail(Errc::kIo, "the lab's QEMU stopped while running the command");
    }
  }

  int fd_;
  Clock::time_point deadline_;
  std::function<bool()> alive_;
  std::string buffer_;
};

}  // namespace

std::string shell_quote(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& word : words) {
    if (!out.empty()) out += ' ';
    out += '\'';
    for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += '\'';
  }
  return out;
}

std::string LabSession::cannot_run_reason() const { return read_text(dir_ + "/cannot-run"); }

bool LabSession::qemu_alive() const {
  const std::string pid = read_text(dir_ + "/qemu.pid");
  return !pid.empty() && ::kill(std::stoi(pid), 0) == 0;
}

std::string LabSession::console_tail() const {
  std::istringstream console(read_text(dir_ + "/console.log"));
  std::deque<std::string> lines;
  for (std::string line; std::getline(console, line);) {
    lines.push_back(line);
    if (lines.size() > 30) lines.pop_front();
  }
  std::string out;
  for (const std::string& line : lines) out += "  " + line + "\n";
  return out;
}

Expected<LabCommandResult> LabSession::run(const std::string& command_line,
                                           std::chrono::seconds lab_timeout) const {
  if (command_line.find('\n') != std::string::npos) {
    return fail(Errc::kInvalidArgument, "a lab command is one line; this one has a newline");
  }
  for (int attempt = 1;; ++attempt) {
    FERRY_ASSIGN(LabCommandResult result, run_once(command_line, lab_timeout));
    if (result.status != kArrivedDamaged || attempt == 3) return result;
    std::cerr << "ferry_kvm_or_lab: " << result.output << "ferry_kvm_or_lab: sending it again\n";
  }
}

Expected<LabCommandResult> LabSession::run_once(const std::string& command_line,
                                                std::chrono::seconds lab_timeout) const {
  UniqueFd lock(::open((dir_ + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock) return fail_errno(errno, "opening " + dir_ + "/lock");
  while (::flock(lock.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return fail_errno(errno, "locking the lab session");
  }
  if (!qemu_alive()) {
    return fail(Errc::kIo, "the lab session in {} is not running; its console ended:\n{}", dir_,
                console_tail());
  }
  // QEMU holds both FIFOs open read-write, so neither open blocks.
  UniqueFd replies(::open((dir_ + "/ctl.out").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  UniqueFd requests(::open((dir_ + "/ctl.in").c_str(), O_WRONLY | O_CLOEXEC));
  if (!replies || !requests) return fail_errno(errno, "opening the lab session's FIFOs");

  const std::string id = random_id();
  const std::string request = fmt::format("@@run {} {} {}\n{}\n", id, lab_timeout.count(),
                                          command_line.size(), command_line);
  for (size_t done = 0; done < request.size();) {
    const ssize_t n = ::write(requests.get(), request.data() + done, request.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(errno, "sending the command to the lab");
    done += static_cast<size_t>(n);
  }
  // A little longer than the lab's own timeout, which answers with status 124.
  ReplyReader reader(replies.get(), Clock::now() + lab_timeout + std::chrono::seconds(30),
                     [this] { return qemu_alive(); });
  auto failed = [&](const Error& e) {
    return fail(Errc::kIo, "{}; the lab's console ended:\n{}", e.message(), console_tail());
  };
  auto size = reader.skip_to_line("@@out " + id + " ");
  if (!size) return failed(size.error());
  auto output = reader.read_bytes(std::stoul(*size));
  if (!output) return failed(output.error());
  auto status = reader.skip_to_line("@@exit " + id + " ");
  if (!status) return failed(status.error());
  return LabCommandResult{std::move(*output), std::stoi(*status)};
}

}  // namespace ferry::test

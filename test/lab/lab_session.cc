#include "lab_session.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <deque>
#include <functional>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>

#include "ferry/base/file.h"
#include "ferry/base/unique_fd.h"

namespace ferry::test {
namespace {

using Clock = std::chrono::steady_clock;

// The file as text; empty when it is missing (a session that never started has no pid file).
std::string read_text(const std::string& path) {
  constexpr uint64_t kMaxBytes = 64ull << 20;  // a console log, at most
  auto bytes = read_file(path, kMaxBytes);
  return bytes ? std::string(bytes->begin(), bytes->end()) : std::string();
}

// The number that ends `line` after `prefix`, when the line has that shape.
std::optional<long> number_after(const std::string& line, const std::string& prefix) {
  if (line.rfind(prefix, 0) != 0) return std::nullopt;
  long value = 0;
  const char* end = line.data() + line.size();
  auto [stop, error] = std::from_chars(line.data() + prefix.size(), end, value);
  if (error != std::errc() || stop != end || value < 0) return std::nullopt;
  return value;
}

std::string random_id() {
  std::random_device device;
  return fmt::format("{:08x}{:08x}", device(), device());
}

// Reads the lab's replies from the session's FIFO, a byte stream shared with earlier clients
// (one killed mid-reply leaves the rest of that reply behind; replies carry ids to skip them).
class ReplyReader {
 public:
  ReplyReader(int fd, std::function<bool()> alive) : fd_(fd), alive_(std::move(alive)) {}

  /// The next line, or nothing when `until` passes first.
  Expected<std::optional<std::string>> line_before(Clock::time_point until) {
    for (;;) {
      const size_t end = buffer_.find('\n');
      if (end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return line;
      }
      FERRY_ASSIGN(bool got_bytes, fill_before(until));
      if (!got_bytes) return std::nullopt;
    }
  }
  /// The next `count` bytes, or nothing when they stop coming for `stall`.
  Expected<std::optional<std::string>> bytes(size_t count, Clock::duration stall) {
    while (buffer_.size() < count) {
      FERRY_ASSIGN(bool got_bytes, fill_before(Clock::now() + stall));
      if (!got_bytes) return std::nullopt;
    }
    std::string out = buffer_.substr(0, count);
    buffer_.erase(0, count);
    return out;
  }

 private:
  // Appends what the FIFO has; false when nothing came before `until`.
  Expected<bool> fill_before(Clock::time_point until) {
    while (Clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, 1000);
      if (ready < 0 && errno != EINTR) return fail_errno(errno, "poll on the lab session");
      if (ready > 0) {
        char chunk[4096];
        const ssize_t n = ::read(fd_, chunk, sizeof chunk);
        if (n > 0) {
          buffer_.append(chunk, static_cast<size_t>(n));
          return true;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
          return fail_errno(errno, "reading from the lab session");
        }
      }
      if (!alive_()) return fail(Errc::kIo, "the lab's QEMU stopped while running the command");
    }
    return false;
  }

  int fd_;
  std::function<bool()> alive_;
  std::string buffer_;
};

Expected<void> write_all(int fd, const std::string& bytes) {
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(errno, "sending the command to the lab");
    done += static_cast<size_t>(n);
  }
  return {};
}

// Sends the request and reads its reply; resends it (same id) while no @@ack came, on an @@nak,
// and when the reply came back damaged. The lab runs each id once (scripts/lab-init).
Expected<LabCommandResult> exchange(int requests, ReplyReader& reader,
                                    const std::string& command_line,
                                    std::chrono::seconds lab_timeout) {
  constexpr int kMaxSends = 8;
  constexpr auto kFirstAckWait = std::chrono::seconds(5);
  constexpr auto kReplyStall = std::chrono::seconds(20);  // a reply streams without pauses
  // The lab's own timeout answers with status 124 well before this; until the first @@ack the
  // lab may still be running the command of a client that was killed.
  const auto command_time = lab_timeout + std::chrono::seconds(30);

  const std::string id = random_id();
  const std::string request = fmt::format("\n@@run {} {} {}\n{}\n", id, lab_timeout.count(),
                                          command_line.size(), command_line);
  int sends = 0;
  Clock::duration ack_wait = kFirstAckWait;
  Clock::time_point resend_at;
  auto send = [&](const char* why) -> Expected<void> {
    if (++sends > kMaxSends) {
      return fail(Errc::kIo, "the lab did not take the command whole in {} tries", kMaxSends);
    }
    if (why != nullptr) std::cerr << "ferry_kvm_or_lab: " << why << "; sending it again\n";
    resend_at = Clock::now() + ack_wait;
    ack_wait *= 2;
    return write_all(requests, request);
  };
  FERRY_TRY(send(nullptr));
  Clock::time_point give_up = Clock::now() + command_time;
  bool acked = false;
  for (;;) {
    FERRY_ASSIGN(auto line, reader.line_before(acked ? give_up : std::min(resend_at, give_up)));
    if (!line) {
      if (Clock::now() >= give_up) {
        return fail(Errc::kIo, "the lab did not answer in {} s (the session may be hung)",
                    command_time.count());
      }
      FERRY_TRY(send("the lab did not acknowledge the command (lost on the way in?)"));
      continue;
    }
    if (*line == "@@ack " + id) {
      acked = true;
      give_up = Clock::now() + command_time;
    } else if (*line == "@@nak " + id) {
      FERRY_TRY(send("the command reached the lab damaged"));
    } else if (auto size = number_after(*line, "@@out " + id + " ")) {
      FERRY_ASSIGN(auto output, reader.bytes(static_cast<size_t>(*size), kReplyStall));
      std::optional<std::string> exit_line;
      if (output) {
        FERRY_ASSIGN(exit_line, reader.line_before(Clock::now() + kReplyStall));
      }
      const auto status = exit_line ? number_after(*exit_line, "@@exit " + id + " ") : std::nullopt;
      if (status) return LabCommandResult{std::move(*output), static_cast<int>(*status)};
      acked = false;
      // The lab answers the repeated id with the reply it kept.
      FERRY_TRY(send("the lab's reply came back damaged"));
    }
  }
}

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

std::string LabSession::kernel() const { return read_text(dir_ + "/kernel"); }

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
  ReplyReader reader(replies.get(), [this] { return qemu_alive(); });
  auto result = exchange(requests.get(), reader, command_line, lab_timeout);
  if (!result) {
    return fail(Errc::kIo, "{}; the lab's console ended:\n{}", result.error().message(),
                console_tail());
  }
  return result;
}

}  // namespace ferry::test

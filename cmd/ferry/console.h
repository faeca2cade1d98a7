// The interactive serial console of `serial: stdio` (docs/linux.md): ferry's stdin goes to COM1's
// receiver. On a terminal ferry puts it in raw mode, so keys such as Ctrl-C reach the guest, and
// reads Ctrl-A as its escape key: Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A.
#pragma once

#include <termios.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

namespace ferry::cli {

// Splits terminal input into bytes for the guest and ferry's own commands.
class EscapeFilter {
 public:
  static constexpr uint8_t kEscape = 0x01;  // Ctrl-A, as QEMU and screen
  enum class Action : uint8_t { kNone, kQuit, kHelp };

  /// Appends the guest's share of `input` to `to_guest`; stops at a command and returns it (the
  /// bytes after it are not consumed: `consumed` says how many were).
  Action feed(std::span<const uint8_t> input, std::string& to_guest, size_t& consumed);

 private:
  bool escaped_ = false;  // the last byte was Ctrl-A
};

// Moves stdin's bytes to the guest with back-pressure: read only while nothing waits, hand what
// waits to the UART as it makes room. Not a terminal: every byte goes as it is (a pipe of shell
// commands), and at end of file the console stops reading while the guest runs on.
class ConsolePump {
 public:
  using Sink = std::function<size_t(std::span<const uint8_t>)>;  // returns how many it took

  ConsolePump(int fd, bool terminal) : fd_(fd), terminal_(terminal) {}

  /// The descriptor to poll for input, or -1 while bytes wait or after end of file.
  int poll_fd() const { return eof_ || !pending_.empty() ? -1 : fd_; }
  /// How long poll may wait: a retry soon while the guest has not made room, else forever.
  int timeout_ms() const { return pending_.empty() ? -1 : kRetryMs; }
  /// Reads what stdin has; returns the escape command it met, if any.
  EscapeFilter::Action read_input();
  /// Hands waiting bytes to `sink` (the UART), as many as it takes.
  void deliver(const Sink& sink);
  bool at_eof() const { return eof_; }
  size_t pending() const { return pending_.size(); }

 private:
  static constexpr int kRetryMs = 10;
  int fd_;
  bool terminal_;
  bool eof_ = false;
  EscapeFilter escape_;
  std::string pending_;
};

/// What Ctrl-A h prints.
const char* console_help();

// Puts a terminal in raw mode (output processing stays on, so ferry's log lines keep their
// carriage returns) and restores the saved mode when destroyed: after a normal end, an error,
// SIGINT, SIGTERM or SIGHUP, which ferry run turns into a normal end. The main thread's seccomp
// filter allows this restore (TCSETS on stdin only).
class RawTerminal {
 public:
  /// Raw mode on `fd` if it is a terminal; otherwise nothing, and active() is false.
  explicit RawTerminal(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

  bool active() const { return saved_.has_value(); }

 private:
  int fd_;
  std::optional<termios> saved_;
};

}  // namespace ferry::cli

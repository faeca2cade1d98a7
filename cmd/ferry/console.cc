#include "console.h"

#include <unistd.h>

#include <cerrno>

namespace ferry::cli {

EscapeFilter::Action EscapeFilter::feed(std::span<const uint8_t> input, std::string& to_guest,
                                        size_t& consumed) {
  consumed = 0;
  while (consumed < input.size()) {
    const uint8_t byte = input[consumed++];
    if (!escaped_) {
      if (byte == kEscape) {
        escaped_ = true;
      } else {
        to_guest.push_back(static_cast<char>(byte));
      }
      continue;
    }
    escaped_ = false;
    switch (byte) {
      case 'x':
      case 'X':
        return Action::kQuit;
      case 'h':
      case 'H':
      case '?':
        return Action::kHelp;
      case kEscape:
        to_guest.push_back(static_cast<char>(kEscape));
        break;
      default:  // not a command: both keys go to the guest
        to_guest.push_back(static_cast<char>(kEscape));
        to_guest.push_back(static_cast<char>(byte));
        break;
    }
  }
  return Action::kNone;
}

EscapeFilter::Action ConsolePump::read_input() {
  uint8_t buffer[256];
  const ssize_t n = ::read(fd_, buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return EscapeFilter::Action::kNone;
  if (n <= 0) {  // end of file, or a terminal hung up (EIO)
    eof_ = true;
    return EscapeFilter::Action::kNone;
  }
  const std::span<const uint8_t> input(buffer, static_cast<size_t>(n));
  if (!terminal_) {
    pending_.append(reinterpret_cast<const char*>(buffer), input.size());
    return EscapeFilter::Action::kNone;
  }
  size_t consumed = 0;
  // Whatever follows a command in the same read is dropped: the user is leaving or reading help.
  return escape_.feed(input, pending_, consumed);
}

void ConsolePump::deliver(const Sink& sink) {
  if (pending_.empty()) return;
  const size_t taken = sink({reinterpret_cast<const uint8_t*>(pending_.data()), pending_.size()});
  pending_.erase(0, taken);
}

const char* console_help() {
  return "\r\nferry console: Ctrl-A x quits (the VM ends, status 0), Ctrl-A Ctrl-A sends Ctrl-A, "
         "Ctrl-A h shows this\r\n";
}

RawTerminal::RawTerminal(int fd) : fd_(fd) {
  termios mode{};
  if (!::isatty(fd) || ::tcgetattr(fd, &mode) != 0) return;
  saved_ = mode;
  ::cfmakeraw(&mode);
  mode.c_oflag |= OPOST;  // "\n" from ferry's logs still returns the carriage
  if (::tcsetattr(fd, TCSANOW, &mode) != 0) saved_.reset();
}

RawTerminal::~RawTerminal() {
  if (saved_) ::tcsetattr(fd_, TCSANOW, &*saved_);
}

}  // namespace ferry::cli

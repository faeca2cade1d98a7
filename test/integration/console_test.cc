// The interactive console's host side (cmd/ferry/console.h): the Ctrl-A escape, stdin moved to
// the UART with back-pressure and end of file, and a terminal put in raw mode and restored.
#include "console.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace ferry::cli {
namespace {

using Action = EscapeFilter::Action;

std::span<const uint8_t> bytes_of(const std::string& text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

TEST(EscapeFilter, CtrlAxQuitsAndCtrlACtrlASendsOneCtrlA) {
  EscapeFilter filter;
  std::string guest;
  size_t consumed = 0;
  EXPECT_EQ(filter.feed(bytes_of("ls\r\x01\x01q\x01x-rest"), guest, consumed), Action::kQuit);
  EXPECT_EQ(guest, "ls\r\x01q");
  EXPECT_EQ(consumed, 8u);  // up to the x
}

TEST(EscapeFilter, TheEscapeMaySpanReadsAndOtherKeysPassWithIt) {
  EscapeFilter filter;
  std::string guest;
  size_t consumed = 0;
  EXPECT_EQ(filter.feed(bytes_of("a\x01"), guest, consumed), Action::kNone);
  EXPECT_EQ(guest, "a");
  EXPECT_EQ(filter.feed(bytes_of("c"), guest, consumed), Action::kNone);  // Ctrl-A c: not ours
  EXPECT_EQ(guest,
            "a\x01"
            "c");
  EXPECT_EQ(filter.feed(bytes_of("\x01"), guest, consumed), Action::kNone);
  EXPECT_EQ(filter.feed(bytes_of("h"), guest, consumed), Action::kHelp);
  EXPECT_EQ(filter.feed(bytes_of("x"), guest, consumed), Action::kNone);  // a plain x
  EXPECT_EQ(guest,
            "a\x01"
            "cx");
}

class Pipe {
 public:
  Pipe() { EXPECT_EQ(::pipe2(fds_, O_CLOEXEC), 0); }
  ~Pipe() {
    ::close(fds_[0]);
    if (fds_[1] >= 0) ::close(fds_[1]);
  }
  int reader() const { return fds_[0]; }
  void write(const std::string& text) {
    ASSERT_EQ(::write(fds_[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  void close_writer() {
    ::close(fds_[1]);
    fds_[1] = -1;
  }

 private:
  int fds_[2] = {-1, -1};
};

// A UART stand-in that takes at most `room` bytes per delivery.
struct SlowUart {
  size_t room;
  std::string received;
  size_t operator()(std::span<const uint8_t> bytes) {
    const size_t n = std::min(room, bytes.size());
    received.append(reinterpret_cast<const char*>(bytes.data()), n);
    return n;
  }
};

TEST(ConsolePump, PipedInputReachesTheGuestWholeAsTheUartMakesRoom) {
  Pipe pipe;
  ConsolePump pump(pipe.reader(), /*terminal=*/false);
  EXPECT_EQ(pump.poll_fd(), pipe.reader());
  EXPECT_EQ(pump.timeout_ms(), -1);
  pipe.write("echo hi\n\x01x");  // no escape on a pipe: Ctrl-A x is data
  EXPECT_EQ(pump.read_input(), Action::kNone);
  SlowUart uart{.room = 4, .received = {}};
  pump.deliver(std::ref(uart));
  EXPECT_EQ(uart.received, "echo");
  EXPECT_EQ(pump.poll_fd(), -1);  // no more reading while bytes wait
  EXPECT_GT(pump.timeout_ms(), 0);
  while (pump.pending() > 0) pump.deliver(std::ref(uart));
  EXPECT_EQ(uart.received, "echo hi\n\x01x");
  EXPECT_EQ(pump.poll_fd(), pipe.reader());
  pipe.close_writer();
  EXPECT_EQ(pump.read_input(), Action::kNone);
  EXPECT_TRUE(pump.at_eof());
  EXPECT_EQ(pump.poll_fd(), -1);  // the guest runs on without input
  EXPECT_EQ(pump.timeout_ms(), -1);
}

TEST(ConsolePump, OnATerminalCtrlAxQuits) {
  Pipe pipe;
  ConsolePump pump(pipe.reader(), /*terminal=*/true);
  pipe.write("ok\x01x");
  EXPECT_EQ(pump.read_input(), Action::kQuit);
  SlowUart uart{.room = 100, .received = {}};
  pump.deliver(std::ref(uart));
  EXPECT_EQ(uart.received, "ok");
}

// A pseudo-terminal stands in for the user's terminal.
class Pty {
 public:
  Pty() {
    master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    EXPECT_GE(master_, 0);
    EXPECT_EQ(::grantpt(master_), 0);
    EXPECT_EQ(::unlockpt(master_), 0);
    slave_ = ::open(::ptsname(master_), O_RDWR | O_NOCTTY | O_CLOEXEC);
    EXPECT_GE(slave_, 0);
  }
  ~Pty() {
    ::close(slave_);
    ::close(master_);
  }
  int slave() const { return slave_; }

 private:
  int master_ = -1, slave_ = -1;
};

TEST(RawTerminal, RawWhileItLivesThenTheSavedModeComesBack) {
  Pty pty;
  termios before{};
  ASSERT_EQ(::tcgetattr(pty.slave(), &before), 0);
  ASSERT_TRUE(before.c_lflag & ICANON);
  {
    RawTerminal raw(pty.slave());
    EXPECT_TRUE(raw.active());
    termios during{};
    ASSERT_EQ(::tcgetattr(pty.slave(), &during), 0);
    EXPECT_FALSE(during.c_lflag & (ICANON | ECHO | ISIG));  // Ctrl-C goes to the guest
    EXPECT_TRUE(during.c_oflag & OPOST);
  }
  termios after{};
  ASSERT_EQ(::tcgetattr(pty.slave(), &after), 0);
  EXPECT_EQ(after.c_lflag, before.c_lflag);
  EXPECT_EQ(after.c_iflag, before.c_iflag);
  EXPECT_EQ(after.c_oflag, before.c_oflag);
}

TEST(RawTerminal, NotATerminalIsLeftAlone) {
  Pipe pipe;
  RawTerminal raw(pipe.reader());
  EXPECT_FALSE(raw.active());
  RawTerminal none(-1);
  EXPECT_FALSE(none.active());
}

}  // namespace
}  // namespace ferry::cli

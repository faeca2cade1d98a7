// lab_channel_check SESSION COUNT: sends COUNT commands of random length to a running lab session
// and checks every byte of every reply, so a lossy channel shows as a failure, not as a hang.
// Before every 25th command it writes a broken request of its own, as the serial line's losses
// would leave it, so the lab's and the client's recovery (scripts/lab-init) runs every time.
// lab_session_smoke runs it; run it by hand against any session to measure the channel.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <random>
#include <string>

#include "lab_session.h"

namespace {

// Printable text without quotes or backslashes: it must survive the shell unchanged.
std::string random_text(std::mt19937& random, size_t length) {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-_+=/()[]{}<>@#%^&*!?~|";
  std::uniform_int_distribution<size_t> pick(0, sizeof kAlphabet - 2);
  std::string out(length, ' ');
  for (char& c : out) c = kAlphabet[pick(random)];
  return out;
}

// Requests broken the ways a lossy line breaks them. The last one swallows the next request's
// header as its command line, so that request gets no @@ack and the client must resend it.
constexpr const char* kBrokenRequests[] = {
    "@@run 0123456789abcdef 60 5\nabc\n",  // the line lost bytes: @@nak
    "@@run 01234567",                      // a header cut short, its newline lost
    "@@ru\n@@run * * *\n",                 // junk, and a header with a glob in it
    "@@run 0123456789abcdef 60 5",         // no newline: eats the next request's header
};

bool send_broken_request(const std::string& session, int which) {
  const int fd = ::open((session + "/ctl.in").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const std::string bytes = kBrokenRequests[which % std::size(kBrokenRequests)];
  const bool sent = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  ::close(fd);
  return sent;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: lab_channel_check SESSION_DIR COUNT\n";
    return 2;
  }
  const ferry::test::LabSession session(argv[1]);
  const int count = std::stoi(argv[2]);
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<size_t> line_length(1, 1500);
  std::uniform_int_distribution<int> repeats(1, 120);
  const auto start = std::chrono::steady_clock::now();
  size_t bytes_in = 0;
  size_t bytes_out = 0;
  for (int i = 1; i <= count; ++i) {
    const std::string text = random_text(random, line_length(random));
    const int times = repeats(random);
    const std::string command =
        "yes " + ferry::test::shell_quote({text}) + " | head -n " + std::to_string(times);
    std::string expected;
    for (int r = 0; r < times; ++r) expected += text + "\n";
    if (i % 25 == 0 && !send_broken_request(argv[1], i / 25 - 1)) {
      std::cerr << "lab_channel_check: cannot write to " << argv[1] << "/ctl.in\n";
      return 1;
    }
    auto result = session.run(command, std::chrono::seconds(60));
    if (!result) {
      std::cerr << "lab_channel_check: command " << i << ": " << result.error().message() << "\n";
      return 1;
    }
    if (result->status != 0 || result->output != expected) {
      std::cerr << "lab_channel_check: command " << i << " (" << command.size()
                << " bytes) came back with status " << result->status << " and "
                << result->output.size() << " bytes, not 0 and " << expected.size() << "\n";
      return 1;
    }
    bytes_in += command.size();
    bytes_out += expected.size();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "lab_channel_check: " << count << " commands, " << bytes_in << " bytes sent, "
            << bytes_out << " bytes back, all intact, in " << seconds << " s\n";
  return 0;
}

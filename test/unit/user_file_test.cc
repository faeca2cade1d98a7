// The files a user names (spec, payload, serial output): anything but a regular file is refused
// at once, naming the file and what it is. Each call runs in a child with a deadline, because a
// FIFO used to block open() forever.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "ferry/base/file.h"
#include "ferry/vmm/serial_output.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry {
namespace {

using test::ProcessResult;
using testing::HasSubstr;

constexpr std::chrono::seconds kDeadline{10};

// Runs `call` in a child; the child prints the error it returned and exits 0, or exits 1 when
// the call succeeded.
template <typename Call>
ProcessResult refusal(const test::TempDir& dir, Call call) {
  return test::run_in_child(
      [&] {
        auto result = call();
        if (result) return 1;
        std::fputs(result.error().message().c_str(), stdout);
        return 0;
      },
      dir.path(), kDeadline);
}

std::string make_fifo(const test::TempDir& dir) {
  const std::string path = dir.path() + "/fifo";
  EXPECT_EQ(::mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);
  return path;
}

TEST(UserFile, ReadingAFifoIsRefusedWithoutBlocking) {
  test::TempDir dir;
  const std::string fifo = make_fifo(dir);
  for (bool whole : {true, false}) {
    ProcessResult r =
        refusal(dir, [&] { return whole ? read_file(fifo, 1 << 20) : read_file_prefix(fifo, 64); });
    EXPECT_EQ(r.exit_status, 0) << "blocked or succeeded (signal " << r.signal << ")";
    EXPECT_THAT(r.out, HasSubstr(fifo + " is a FIFO (named pipe), not a regular file"));
  }
}

TEST(UserFile, ReadingADirectoryADeviceOrASocketIsRefused) {
  test::TempDir dir;
  const std::string socket_path = dir.path() + "/socket";
  const int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", socket_path.c_str());
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  const std::pair<std::string, std::string> cases[] = {
      {dir.path(), "a directory"},
      {"/dev/null", "a character device"},
      {socket_path, "a socket"},
  };
  for (const auto& [path, kind] : cases) {
    ProcessResult r = refusal(dir, [&] { return read_file(path, 1 << 20); });
    EXPECT_EQ(r.exit_status, 0) << path;
    EXPECT_THAT(r.out, HasSubstr(path + " is " + kind + ", not a regular file")) << path;
  }
  ::close(sock);
}

TEST(UserFile, SerialOutputRefusesAFifoAndADirectoryWithoutBlocking) {
  test::TempDir dir;
  const std::string fifo = make_fifo(dir);
  ProcessResult to_fifo = refusal(dir, [&] { return vmm::SerialOutput::to_file(fifo); });
  EXPECT_EQ(to_fifo.exit_status, 0) << "blocked or succeeded (signal " << to_fifo.signal << ")";
  EXPECT_THAT(to_fifo.out, HasSubstr("serial: " + fifo + " is a FIFO (named pipe)"));

  ProcessResult to_dir = refusal(dir, [&] { return vmm::SerialOutput::to_file(dir.path()); });
  EXPECT_EQ(to_dir.exit_status, 0);
  EXPECT_THAT(to_dir.out, HasSubstr("serial: " + dir.path() + " is a directory"));
}

TEST(UserFile, SerialOutputCreatesOrTruncatesARegularFile) {
  test::TempDir dir;
  const std::string old_file = dir.write("old", "earlier output");
  {
    auto output = vmm::SerialOutput::to_file(old_file);
    ASSERT_TRUE(output) << output.error().message();
    output->put('x');
    auto fresh = vmm::SerialOutput::to_file(dir.path() + "/new");
    ASSERT_TRUE(fresh) << fresh.error().message();
    fresh->put('y');
  }
  EXPECT_EQ(dir.read("old"), "x");
  EXPECT_EQ(dir.read("new"), "y");
}

}  // namespace
}  // namespace ferry

// `ferry run --accel mshv|kvm|auto`: parsing, what auto picks, and what a host without /dev/mshv
// is told; and that linking the MSHV backend (with lib/x86) keeps the binary libc-only.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include "open_hypervisor.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry::test {
namespace {

using ::testing::HasSubstr;

TEST(CliAccel, Parses) {
  EXPECT_EQ(cli::parse_accel("auto"), cli::AccelChoice::kAuto);
  EXPECT_EQ(cli::parse_accel("kvm"), cli::AccelChoice::kKvm);
  EXPECT_EQ(cli::parse_accel("mshv"), cli::AccelChoice::kMshv);
  auto bad = cli::parse_accel("hyperv");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message(), HasSubstr("choose auto, kvm or mshv"));
}

TEST(CliAccel, AutoPicksTheDeviceThatExists) {
  auto only = [](const char* which) {
    return [which](const char* path) { return std::string(path) == which; };
  };
  EXPECT_EQ(cli::resolve_auto(only("/dev/kvm")), cli::AccelChoice::kKvm);
  EXPECT_EQ(cli::resolve_auto(only("/dev/mshv")), cli::AccelChoice::kMshv);
  auto neither = cli::resolve_auto([](const char*) { return false; });
  ASSERT_FALSE(neither);
  EXPECT_THAT(neither.error().message(), HasSubstr("neither /dev/kvm"));
  auto both = cli::resolve_auto([](const char*) { return true; });
  ASSERT_FALSE(both);
  EXPECT_THAT(both.error().message(), HasSubstr("choose with --accel kvm or --accel mshv"));
}

TEST(CliAccel, MshvOnAHostWithoutIt) {
  if (::access("/dev/mshv", F_OK) == 0) GTEST_SKIP() << "this host has /dev/mshv";
  TempDir dir;
  ProcessResult r = run_process({FERRY_BINARY, "run", "--accel", "mshv",
                                 std::string(FERRY_SOURCE_DIR) + "/examples/hello.yaml"},
                                dir.path());
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_THAT(r.err, HasSubstr("/dev/mshv does not exist"));
  EXPECT_THAT(r.err, HasSubstr("--accel kvm"));
}

// lib/mshv links lib/x86, which decodes with Zydis: the library must be loaded on first use, never
// be a dependency of the binary (docs/architecture.md, "The ferry binary needs only libc").
TEST(CliAccel, TheBinaryNeedsOnlyLibc) {
  TempDir dir;
  ProcessResult r = run_process({"/usr/bin/readelf", "--dynamic", FERRY_BINARY}, dir.path());
  ASSERT_EQ(r.exit_status, 0) << "readelf (binutils) is needed for this test: " << r.err;
  std::vector<std::string> needed;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    const auto open = line.find("(NEEDED)");
    if (open == std::string::npos) continue;
    const auto from = line.find('[', open), to = line.find(']', open);
    if (from != std::string::npos && to != std::string::npos) {
      needed.push_back(line.substr(from + 1, to - from - 1));
    }
  }
  // glibc: libc itself and its dynamic loader (which static libstdc++'s TLS use names).
  EXPECT_THAT(needed, ::testing::Contains("libc.so.6"));
  EXPECT_THAT(needed, ::testing::Each(::testing::AnyOf("libc.so.6", "ld-linux-x86-64.so.2")));
}

}  // namespace
}  // namespace ferry::test

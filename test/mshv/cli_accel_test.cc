// `ferry run --accel mshv|kvm|auto`: parsing, what auto picks, and what a host without /dev/mshv
// is told.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include "open_hypervisor.h"

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

// Runs the ferry binary; its exit status and everything it printed.
std::pair<int, std::string> ferry(const std::string& args) {
  const std::string command = std::string(FERRY_BINARY) + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::string output;
  std::array<char, 512> buffer;
  while (size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe))
    output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(CliAccel, MshvOnAHostWithoutIt) {
  if (::access("/dev/mshv", F_OK) == 0) GTEST_SKIP() << "this host has /dev/mshv";
  auto [status, output] = ferry("run --accel mshv " FERRY_SOURCE_DIR "/examples/hello.yaml");
  EXPECT_EQ(status, 1);
  EXPECT_THAT(output, HasSubstr("/dev/mshv does not exist"));
  EXPECT_THAT(output, HasSubstr("--accel kvm"));
}

TEST(CliAccel, UnknownAccelIsAUsageError) {
  auto [status, output] = ferry("run --accel xen " FERRY_SOURCE_DIR "/examples/hello.yaml");
  EXPECT_EQ(status, 2);
  EXPECT_THAT(output, HasSubstr("choose auto, kvm or mshv"));
}

}  // namespace
}  // namespace ferry::test

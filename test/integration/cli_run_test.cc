// `ferry run` end to end on real KVM: output, exit statuses, signals, hugepages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include <fstream>
#include <thread>

#include "exitloop_image.h"
#include "support/kvm_required.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry::test {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using namespace std::chrono_literals;

const std::string kHello = std::string(FERRY_SOURCE_DIR) + "/examples/hello.yaml";

class CliRun : public ::testing::Test {
 protected:
  void SetUp() override { FERRY_REQUIRE_KVM(); }
  ProcessResult ferry(std::vector<std::string> args) {
    args.insert(args.begin(), FERRY_BINARY);
    return run_process(args, dir_.path());
  }
  TempDir dir_;
};

TEST_F(CliRun, TheDefaultExamplePrintsItsGreetingAndExits0) {
  ProcessResult r = ferry({"run", kHello});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out, "Hello from a ferry guest in 64-bit long mode on vCPU 0 of 1.\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(CliRun, TheGuestsExitStatusIsFerrysExitStatus) {
  ProcessResult r = ferry({"run", kHello, "--set", "payload.builtin=smp", "--set", "vcpus=3"});
  EXPECT_EQ(r.exit_status, 3) << r.err;
  EXPECT_THAT(r.out, HasSubstr("all 3 vCPUs checked in"));
}

TEST_F(CliRun, SerialCanGoToAFileOrNowhere) {
  ProcessResult r =
      ferry({"run", kHello, "--set", "serial={file: " + dir_.path() + "/console.log}"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(dir_.read("console.log"),
            "Hello from a ferry guest in 64-bit long mode on vCPU 0 of 1.\n");
  r = ferry({"run", kHello, "--set", "serial=off"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(CliRun, StatsReportExitsAndMemory) {
  ProcessResult r = ferry({"run", kHello, "--stats"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.err, MatchesRegex("\\{\"exits\":[0-9]+,\"pio\":[0-9]+,\"mmio\":0,\"unclaimed\":0,"
                                  "\"rss_hwm_kib\":[0-9]+,\"guest_resident_kib\":[0-9]+,"
                                  "\"overhead_kib\":[0-9]+\\}\n"));
}

class CliSignals : public CliRun, public ::testing::WithParamInterface<int> {};

TEST_P(CliSignals, StopTheVmCleanlyWith128PlusTheSignal) {
  const std::string image = write_exitloop(dir_, 0xffffffff, 0);
  const std::string spec =
      dir_.write("spin.yaml", "vcpus: 2\nmemory: 4M\npayload: {file: " + image +
                                  ", format: flat, load_address: 0xf0000, mode: real}\n");
  Process ferry_process({FERRY_BINARY, "run", spec}, dir_.path());
  ASSERT_TRUE(ferry_process.wait_for_output("!", 10s)) << "the guest never started";
  std::this_thread::sleep_for(50ms);
  const auto begin = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(ferry_process.pid(), GetParam()), 0);
  ProcessResult r = ferry_process.wait(10s);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
  EXPECT_EQ(r.signal, 0) << "ferry died of the signal instead of handling it";
  EXPECT_EQ(r.exit_status, 128 + GetParam()) << r.err;
  EXPECT_THAT(r.err, HasSubstr("stopping the VM"));
}

INSTANTIATE_TEST_SUITE_P(IntAndTerm, CliSignals, ::testing::Values(SIGINT, SIGTERM));

long read_long(const std::string& path) {
  std::ifstream in(path);
  long value = -1;
  in >> value;
  return value;
}

constexpr const char* kPool2M = "/sys/kernel/mm/hugepages/hugepages-2048kB";

TEST_F(CliRun, AShortHugepagePoolIsAClearErrorWithTheFix) {
  const long free_pages = read_long(std::string(kPool2M) + "/free_hugepages");
  const long surplus = read_long(std::string(kPool2M) + "/nr_overcommit_hugepages");
  ASSERT_GE(free_pages, 0) << "this host has no 2 MiB hugepage pool";
  const long want = free_pages + std::max(surplus, 0L) + 1;  // always more than the pool gives
  ProcessResult r = ferry(
      {"run", kHello, "--set", "memory={size: " + std::to_string(want * 2) + "M, hugepages: 2M}"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_THAT(r.err, HasSubstr(fmt::format("needs {} free 2 MiB hugepages but the host has {} "
                                           "free. Grow the pool with: echo",
                                           want, free_pages)));
  EXPECT_THAT(r.err, HasSubstr("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages, or set "
                               "memory.hugepages: none"));
}

TEST_F(CliRun, GuestMemoryCanComeFromHugepages) {
  if (::geteuid() != 0) GTEST_SKIP() << "growing the hugepage pool needs root";
  const std::string pool = std::string(kPool2M) + "/nr_hugepages";
  const long before = read_long(pool);
  ASSERT_GE(before, 0);
  std::ofstream(pool) << before + 8;
  ProcessResult r = ferry({"run", kHello, "--set", "memory={size: 16M, hugepages: 2M}", "--stats"});
  std::ofstream(pool) << before;  // give the pages back
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Hello from a ferry guest"));
}

}  // namespace
}  // namespace ferry::test

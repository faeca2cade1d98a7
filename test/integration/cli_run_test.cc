// `ferry run` end to end on real KVM: output, exit statuses, signals, hugepages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include <fstream>
#include <sstream>
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

TEST_F(CliRun, AForbiddenCallFromAVcpuThreadStopsFerryNamingTheCall) {
  ProcessResult r = ferry({"run", kHello, "--debug-forbidden-call"});
  EXPECT_EQ(r.exit_status, 159) << r.err;
  EXPECT_EQ(r.err,
            "ferry: seccomp: the vCPU 0 thread made system call socket (41), which its filter "
            "forbids; stopping (see docs/seccomp.md; --seccomp off to debug)\n");
  EXPECT_EQ(r.out, "");  // vCPU 0 never entered the guest
}

TEST_F(CliRun, SeccompOffLetsTheSameCallThroughAndSaysSoLoudly) {
  ProcessResult r = ferry({"run", kHello, "--seccomp", "off", "--debug-forbidden-call"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out, "Hello from a ferry guest in 64-bit long mode on vCPU 0 of 1.\n");
  EXPECT_THAT(r.err, HasSubstr("SECCOMP IS OFF (--seccomp off)"));
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
                                           "free, {} short. Grow the pool with: echo",
                                           want, free_pages, want - free_pages)));
  EXPECT_THAT(r.err, HasSubstr("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages, or set "
                               "memory.hugepages: none"));
}

// The kB of process `pid`'s mappings whose kernel page size is `page_kib`, from
// /proc/PID/smaps: what a mapping occupies in hugetlb pages is in its own KernelPageSize line,
// so this cannot be fooled by another process's use of the host's pool.
long mapped_kib_in_pages_of(pid_t pid, long page_kib) {
  std::ifstream smaps(fmt::format("/proc/{}/smaps", pid));
  long total = 0, size = 0;
  std::string line;
  while (std::getline(smaps, line)) {
    std::istringstream fields(line);
    std::string key;
    long value = 0;
    fields >> key >> value;
    if (key == "Size:") size = value;
    if (key == "KernelPageSize:" && value == page_kib) total += size;
  }
  return total;
}

TEST_F(CliRun, GuestMemoryCanComeFromHugepages) {
  constexpr long kGuestKib = 4096, kGuestPages = 2;  // 4 MiB in 2 MiB pages
  const std::string pool = kPool2M;
  const long pool_before = read_long(pool + "/nr_hugepages");
  if (pool_before < 0) {
    GTEST_SKIP() << "NO HUGEPAGES: this kernel has no 2 MiB hugepage pool (" << pool
                 << " is missing), so ferry cannot be shown to use one";
  }
  const long free_before = read_long(pool + "/free_hugepages");
  bool grown = false;
  if (free_before < kGuestPages) {
    const long wanted = pool_before + kGuestPages - free_before;
    if (::geteuid() != 0) {
      GTEST_SKIP() << "NO HUGEPAGES: the 2 MiB pool has " << free_before
                   << " free pages, the guest needs " << kGuestPages
                   << ", and growing it needs root: echo " << wanted << " > " << pool
                   << "/nr_hugepages";
    }
    std::ofstream(pool + "/nr_hugepages") << wanted;
    grown = true;
    if (read_long(pool + "/free_hugepages") < kGuestPages) {
      std::ofstream(pool + "/nr_hugepages") << pool_before;
      GTEST_SKIP() << "NO HUGEPAGES: the kernel could not grow the 2 MiB pool to " << wanted
                   << " pages (host memory too fragmented?)";
    }
  }
  const std::string image = write_exitloop(dir_, 0xffffffff, 0);
  const std::string spec =
      dir_.write("huge.yaml", "memory: {size: 4M, hugepages: 2M}\npayload: {file: " + image +
                                  ", format: flat, load_address: 0xf0000, mode: real}\n");
  Process ferry_process({FERRY_BINARY, "run", spec}, dir_.path());
  const bool started = ferry_process.wait_for_output("!", 10s);
  // Read while the guest runs: the mappings go when ferry exits.
  const long huge_kib = mapped_kib_in_pages_of(ferry_process.pid(), 2048);
  ::kill(ferry_process.pid(), SIGTERM);
  ProcessResult r = ferry_process.wait(10s);
  if (grown) std::ofstream(pool + "/nr_hugepages") << pool_before;  // give the pages back
  ASSERT_TRUE(started) << "the guest never started: " << r.err;
  EXPECT_EQ(huge_kib, kGuestKib)
      << "ferry's mappings in 2 MiB pages (/proc/PID/smaps KernelPageSize) should be exactly the "
         "guest's 4 MiB";
  EXPECT_EQ(r.exit_status, 128 + SIGTERM) << r.err;
}

}  // namespace
}  // namespace ferry::test

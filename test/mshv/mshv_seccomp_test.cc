// The vCPU threads' seccomp filter in a Machine on the MSHV backend, in process (the fake
// driver): the filter Machine's thread hooks load stops a forbidden call before the guest runs.
// A confined guest cannot run to its end here: the fake's write() wrapper (fake_eventfd.cc)
// calls fcntl and reads /proc/self/fdinfo on every write, calls the real driver never makes,
// so the allow list itself is proven on real KVM (test/integration, the lab). In a child: a
// filter cannot be undone.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include "fake_mshv_driver.h"
#include "ferry/mshv/mshv_hypervisor.h"
#include "ferry/sandbox/thread_filter.h"
#include "ferry/vmm/machine.h"
#include "mshv_backend_test.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry::test {
namespace {

using namespace mshv;
using namespace std::chrono_literals;

// Builds the fake-MSHV Machine of mshv_machine_test.cc (load_outsb_exit_guest: "hi" by REP OUTSB
// and exits 7), each vCPU thread confined, then runs it; `after_confining` runs on the vCPU
// thread right after its filter. Returns the guest's status, or 90+ for a setup failure.
int run_confined_guest(const std::string& serial_path, void (*after_confining)()) {
  if (!sandbox::prepare_process()) return 90;
  FakeMshvDriver fake(fake_options_with_host_cpuid());
  auto hypervisor = MshvHypervisor::open(fake);
  if (!hypervisor) return 91;
  vmm::MachineOptions options;
  options.thread_hooks.vcpu = [after_confining](unsigned index) -> Expected<void> {
    FERRY_TRY(sandbox::confine_this_thread(sandbox::Role::kVcpu, fmt::format("vCPU {}", index)));
    if (after_confining != nullptr) after_confining();
    return {};
  };
  auto machine = vmm::Machine::create(**hypervisor, fake_machine_config(serial_path), options);
  if (!machine) return 92;
  if (!load_outsb_exit_guest(fake, (*machine)->memory())) return 93;
  fake.execute_guest(0);
  (*machine)->start();
  const vmm::Outcome outcome = (*machine)->wait();
  std::fprintf(stderr, "%s\n", vmm::describe(outcome).c_str());
  return vmm::exit_status(outcome);
}

TEST(MshvSeccomp, AForbiddenCallFromAConfinedVcpuThreadStopsTheProcessNamingIt) {
  TempDir dir;
  const std::string serial = dir.path() + "/serial.txt";
  ProcessResult r = run_in_child(
      [&] {
        return run_confined_guest(serial, [] {
          const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
          if (fd >= 0) ::close(fd);
        });
      },
      dir.path(), 30s);
  EXPECT_EQ(r.exit_status, sandbox::kForbiddenCallExitStatus) << r.err;
  EXPECT_THAT(r.err, ::testing::HasSubstr("ferry: seccomp: the vCPU 0 thread made system call "
                                          "socket (41), which its filter forbids"));
  EXPECT_EQ(dir.read("serial.txt"), "");  // the guest never ran
}

}  // namespace
}  // namespace ferry::test

// The pci guest (guests/pci.c) on real KVM, through the Machine API and through `ferry run`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "ferry/kvm/kvm_hypervisor.h"
#include "ferry/vmm/config_loader.h"
#include "ferry/vmm/machine.h"
#include "support/kvm_required.h"
#include "support/temp_dir.h"

namespace ferry {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A spec for the pci guest with the serial console in `serial.log` next to it.
std::string spec(const std::string& devices) {
  return "name: pci\n"
         "memory: 64M\n"
         "payload: {builtin: pci}\n"
         "serial: {file: serial.log}\n"
         "devices: " +
         devices + "\n";
}

struct GuestRun {
  vmm::Outcome outcome;
  std::string serial;
};

GuestRun run_machine(const test::TempDir& dir, const std::string& yaml) {
  auto config = vmm::parse_vm_config(yaml, "pci.yaml", dir.path());
  EXPECT_TRUE(config) << config.error().message();
  if (!config) return {};
  auto kvm = kvm::KvmHypervisor::open();
  EXPECT_TRUE(kvm) << kvm.error().message();
  if (!kvm) return {};
  auto machine = vmm::Machine::create(**kvm, *config);
  EXPECT_TRUE(machine) << machine.error().message();
  if (!machine) return {};
  (*machine)->start();
  GuestRun run{(*machine)->wait(), ""};
  machine->reset();  // closes the serial file
  run.serial = dir.read("serial.log");
  return run;
}

TEST(PciGuest, EnumeratesSizesProgramsAndTakesMsixInterrupts) {
  FERRY_REQUIRE_KVM();
  test::TempDir dir;
  const GuestRun run = run_machine(dir, spec("[{type: pci-test, slot: 5}]"));
  EXPECT_EQ(run.outcome.reason, vmm::Outcome::Reason::kGuestExit) << vmm::describe(run.outcome);
  EXPECT_EQ(run.outcome.code, 0) << run.serial;
  EXPECT_THAT(run.serial, HasSubstr("pci: 00:00.0 id 0xfe001234 class 0x00060000\n"));
  EXPECT_THAT(run.serial, HasSubstr("pci: mechanism #1 found the test device at 00:05.0\n"));
  EXPECT_THAT(run.serial, HasSubstr("pci: ECAM agrees with mechanism #1 on all 32 slots\n"));
  EXPECT_THAT(run.serial, HasSubstr("ROM 2048 B\n"));
  EXPECT_THAT(run.serial, HasSubstr("(from 0x0000000100000000)"));  // 64-bit window at 4 GiB
  EXPECT_THAT(run.serial, HasSubstr("pci: masked vector 1 pending in the PBA, delivered on "
                                    "unmask\n"));
  EXPECT_THAT(run.serial, HasSubstr("pci: 3 MSI-X messages, each delivered exactly once\n"));
  EXPECT_THAT(run.serial, HasSubstr("pci: all checks passed\n"));
  EXPECT_THAT(run.serial, Not(HasSubstr("FAILED")));
}

TEST(PciGuest, AVectorRetargetedWhileLiveArrivesOnTheNewVcpu) {
  FERRY_REQUIRE_KVM();
  test::TempDir dir;
  const GuestRun run = run_machine(dir, "vcpus: 2\n" + spec("[{type: pci-test, slot: 5}]"));
  EXPECT_EQ(run.outcome.reason, vmm::Outcome::Reason::kGuestExit) << vmm::describe(run.outcome);
  EXPECT_EQ(run.outcome.code, 0) << run.serial;
  EXPECT_THAT(run.serial, HasSubstr("pci: vector 2 retargeted from vCPU 1 to vCPU 0 while live\n"));
  EXPECT_THAT(run.serial, HasSubstr("pci: all checks passed\n"));
}

TEST(PciGuest, FailsWithTheCheckNumberWhenThereIsNoTestDevice) {
  FERRY_REQUIRE_KVM();
  test::TempDir dir;
  const GuestRun run = run_machine(dir, spec("[]"));
  EXPECT_EQ(run.outcome.reason, vmm::Outcome::Reason::kGuestExit) << vmm::describe(run.outcome);
  EXPECT_EQ(run.outcome.code, 22);
  EXPECT_THAT(run.serial, HasSubstr("pci: FAILED check 22: exactly one pci-test device on bus 0"));
}

TEST(PciGuest, TheExampleRunsFromTheCommandLine) {
  FERRY_REQUIRE_KVM();
  test::TempDir dir;
  const std::string command = std::string(FERRY_BINARY) + " run " + FERRY_SOURCE_DIR +
                              "/examples/pci.yaml --set vcpus=2 > " + dir.path() + "/out.txt 2>&1";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << command;
  EXPECT_EQ(WEXITSTATUS(status), 0) << dir.read("out.txt");
  EXPECT_THAT(dir.read("out.txt"), HasSubstr("found the test device at 00:03.0\n"));
  EXPECT_THAT(dir.read("out.txt"), HasSubstr("pci: all checks passed\n"));
}

TEST(PciGuest, TheCommandLineRejectsABadDeviceWithItsPlace) {
  test::TempDir dir;  // no KVM needed: the spec is refused before any VM exists
  const std::string yaml = dir.write("pci.yaml", spec("[{type: pci-test, slot: 40}]"));
  const std::string command =
      std::string(FERRY_BINARY) + " validate " + yaml + " > " + dir.path() + "/out.txt 2>&1";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_THAT(dir.read("out.txt"),
              HasSubstr("pci.yaml:5:34: devices[0].slot: '40' is not a whole number from 0 to 31"));
}

}  // namespace
}  // namespace ferry

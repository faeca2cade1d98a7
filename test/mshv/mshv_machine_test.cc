// The Machine on the MSHV backend, as far as the fake allows: the whole VM is built (memory,
// vCPUs, CPUID, the test device's GSI, the UART's pin on the userspace IOAPIC), and a guest
// that prints over the UART with REP OUTSB and leaves through the exit port ends it with its
// status. The fake cannot execute the built-in guests' C code, so the test replaces the code at
// the entry point with port I/O and gives the registers it needs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_mshv_driver.h"
#include "ferry/mshv/mshv_hypervisor.h"
#include "ferry/vmm/machine.h"
#include "mshv_backend_test.h"
#include "support/temp_dir.h"

namespace ferry::test {
namespace {

using namespace mshv;

TEST(MshvMachine, RunsAGuestToItsExitStatus) {
  FakeMshvDriver fake(fake_options_with_host_cpuid());
  auto hypervisor = MshvHypervisor::open(fake);
  ASSERT_TRUE(hypervisor);
  TempDir dir;
  vmm::VmConfig config;
  config.name = "mshv";
  config.memory_size = 16 * 1024 * 1024;
  config.payload.builtin = "hello";
  config.serial.mode = vmm::SerialMode::kFile;
  config.serial.path = dir.path() + "/serial.txt";
  auto machine = vmm::Machine::create(**hypervisor, config);
  ASSERT_TRUE(machine) << machine.error().message();

  // The guest: rep outsb to the UART, then out al to the exit port, then hlt.
  const uint64_t entry = fake.vp_register(0, kHvRegRip).low;
  const uint8_t code[] = {0xf3, 0x6e, 0xe6, 0xf4, 0xf4};
  const uint8_t text[] = {'h', 'i', '\n'};
  ASSERT_TRUE((*machine)->memory().write(entry, code));
  ASSERT_TRUE((*machine)->memory().write(0x300000, text));
  fake.set_vp_register(0, kHvRegRsi, {0x300000, 0});
  fake.set_vp_register(0, kHvRegRcx, {3, 0});
  fake.set_vp_register(0, kHvRegRdx, {0x3f8, 0});
  fake.set_vp_register(0, kHvRegRax, {7, 0});
  fake.execute_guest(0);

  (*machine)->start();
  const vmm::Outcome outcome = (*machine)->wait();
  EXPECT_EQ(outcome.reason, vmm::Outcome::Reason::kGuestExit) << vmm::describe(outcome);
  EXPECT_EQ(outcome.code, 7);
  EXPECT_EQ(dir.read("serial.txt"), "hi\n");
  EXPECT_EQ(fake.property(kHvPropertyTimeFreeze), 0u) << "the clock runs once the guest does";
  EXPECT_GE((*machine)->stats().io.pio, 4u);
}

TEST(MshvMachine, AnErrorInTheRunLoopEndsTheMachineWithTheRegisters) {
  FakeMshvDriver fake(fake_options_with_host_cpuid());
  auto hypervisor = MshvHypervisor::open(fake);
  ASSERT_TRUE(hypervisor);
  vmm::VmConfig config;
  config.name = "mshv";
  config.memory_size = 16 * 1024 * 1024;
  config.payload.builtin = "mmio";
  config.serial.mode = vmm::SerialMode::kOff;
  auto machine = vmm::Machine::create(**hypervisor, config);
  ASSERT_TRUE(machine) << machine.error().message();
  const uint64_t entry = fake.vp_register(0, kHvRegRip).low;
  const uint8_t load[] = {0x8b, 0x04, 0x25, 0x00, 0x00, 0xb0, 0xfe};  // mov eax, [0xfeb00000]
  ASSERT_TRUE((*machine)->memory().write(entry, load));
  fake.annotate_mmio(entry, {.gpa = 0xfeb00000, .gva = 0xfeb00000});
  fake.execute_guest(0);
  (*machine)->start();
  const vmm::Outcome outcome = (*machine)->wait();
  ASSERT_EQ(outcome.reason, vmm::Outcome::Reason::kError);
  EXPECT_THAT(vmm::describe(outcome), ::testing::HasSubstr("lib/x86"));
  EXPECT_THAT(vmm::describe(outcome), ::testing::HasSubstr("rip="));
}

}  // namespace
}  // namespace ferry::test

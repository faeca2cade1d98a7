// The Machine on the MSHV backend, as far as the fake allows: the whole VM is built (memory,
// vCPUs, CPUID, the test device's GSI, the UART's pin on the userspace IOAPIC), and a guest
// that prints over the UART with REP OUTSB and leaves through the exit port ends it with its
// status; MMIO instructions reach the test device on the Machine's bus through lib/x86. The fake
// cannot execute the built-in guests' C code, so the tests replace the code at the entry point
// with port I/O and annotated MMIO instructions and give the registers they need.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <span>

#include "fake_mshv_driver.h"
#include "ferry/mshv/mshv_hypervisor.h"
#include "ferry/vmm/machine.h"
#include "mshv_backend_test.h"
#include "support/bzimage_builder.h"
#include "support/temp_dir.h"

namespace ferry::test {
namespace {

using namespace mshv;

TEST(MshvMachine, RunsAGuestToItsExitStatus) {
  FakeMshvDriver fake(fake_options_with_host_cpuid());
  auto hypervisor = MshvHypervisor::open(fake);
  ASSERT_TRUE(hypervisor);
  TempDir dir;
  auto machine =
      vmm::Machine::create(**hypervisor, fake_machine_config(dir.path() + "/serial.txt"));
  ASSERT_TRUE(machine) << machine.error().message();

  // The guest: rep outsb to the UART, then out al to the exit port, then hlt.
  ASSERT_TRUE(load_outsb_exit_guest(fake, (*machine)->memory()));
  fake.execute_guest(0);

  (*machine)->start();
  const vmm::Outcome outcome = (*machine)->wait();
  EXPECT_EQ(outcome.reason, vmm::Outcome::Reason::kGuestExit) << vmm::describe(outcome);
  EXPECT_EQ(outcome.code, 7);
  EXPECT_EQ(dir.read("serial.txt"), "hi\n");
  EXPECT_EQ(fake.property(kHvPropertyTimeFreeze), 0u) << "the clock runs once the guest does";
  EXPECT_GE((*machine)->stats().io.pio, 4u);
}

// A Linux payload on MSHV: the boot vCPU gets the 64-bit entry state; parking the others until
// INIT/SIPI is not implemented there, so more than one vCPU is refused (docs/boot.md).
TEST(MshvMachine, ALinuxKernelStartsOnOneVcpuAndMoreAreRefused) {
  TempDir dir;
  const std::vector<uint8_t> image = BzImageBuilder().bytes();
  vmm::VmConfig config = fake_machine_config(dir.path() + "/serial.txt");
  config.memory_size = 32 * 1024 * 1024;
  config.payload = vmm::PayloadConfig{};
  config.payload.format = vmm::PayloadFormat::kLinux;
  config.payload.file = dir.write("bzImage", std::string(image.begin(), image.end()));
  {
    FakeMshvDriver fake(fake_options_with_host_cpuid());
    auto hypervisor = MshvHypervisor::open(fake);
    ASSERT_TRUE(hypervisor);
    auto machine = vmm::Machine::create(**hypervisor, config);
    ASSERT_TRUE(machine) << machine.error().message();
    EXPECT_EQ(fake.vp_register(0, kHvRegRip).low, 0x1000200u);
    EXPECT_EQ(fake.vp_register(0, kHvRegRsi).low, 0x8000u);
  }
  config.vcpus = 2;
  FakeMshvDriver fake(fake_options_with_host_cpuid());
  auto hypervisor = MshvHypervisor::open(fake);
  ASSERT_TRUE(hypervisor);
  auto machine = vmm::Machine::create(**hypervisor, config);
  ASSERT_FALSE(machine);
  EXPECT_THAT(machine.error().message(),
              ::testing::HasSubstr("vCPU 1: parking an application processor until INIT/SIPI is "
                                   "not implemented on MSHV"));
}

// A Machine with the "mmio" payload and the fake ready to execute `code` at the entry point with
// RBX at the test device.
struct MmioMachine {
  explicit MmioMachine(std::span<const uint8_t> code) {
    auto opened = MshvHypervisor::open(fake);
    EXPECT_TRUE(opened);
    if (!opened) return;
    hypervisor = std::move(*opened);
    vmm::VmConfig config;
    config.name = "mshv";
    config.memory_size = 16 * 1024 * 1024;
    config.payload.builtin = "mmio";
    config.serial.mode = vmm::SerialMode::kOff;
    auto created = vmm::Machine::create(*hypervisor, config);
    EXPECT_TRUE(created) << created.error().message();
    if (!created) return;
    machine = std::move(*created);
    entry = fake.vp_register(0, kHvRegRip).low;
    EXPECT_TRUE(machine->memory().write(entry, code));
    fake.set_vp_register(0, kHvRegRbx, {kTestDevice, 0});
  }
  static constexpr uint64_t kTestDevice = 0xfeb00000;
  FakeMshvDriver fake{fake_options_with_host_cpuid()};
  std::unique_ptr<MshvHypervisor> hypervisor;
  std::unique_ptr<vmm::Machine> machine;
  uint64_t entry = 0;
};

TEST(MshvMachine, TheGuestsMmioReachesTheTestDeviceThroughTheEmulator) {
  // mov eax, [rbx] (the ID, "FRRY"); mov [rbx+0x100], eax (scratch); mov al, [rbx+0x101];
  // out 0xf4, al: the VM exits with the scratch's second byte, 'R'.
  const uint8_t code[] = {0x8b, 0x03, 0x89, 0x83, 0x00, 0x01, 0x00, 0x00,
                          0x8a, 0x83, 0x01, 0x01, 0x00, 0x00, 0xe6, 0xf4};
  MmioMachine m(code);
  ASSERT_TRUE(m.machine);
  m.fake.annotate_mmio(m.entry, {.gva = MmioMachine::kTestDevice});
  m.fake.annotate_mmio(m.entry + 2, {.gva = MmioMachine::kTestDevice + 0x100, .write = true});
  m.fake.annotate_mmio(m.entry + 8, {.gva = MmioMachine::kTestDevice + 0x101});
  m.fake.execute_guest(0);
  m.machine->start();
  const vmm::Outcome outcome = m.machine->wait();
  EXPECT_EQ(outcome.reason, vmm::Outcome::Reason::kGuestExit) << vmm::describe(outcome);
  EXPECT_EQ(outcome.code, 'R');
  EXPECT_EQ(m.machine->stats().io.mmio, 3u);
}

TEST(MshvMachine, AnErrorInTheRunLoopEndsTheMachineWithTheRegisters) {
  const uint8_t code[] = {0xd9, 0x03};  // fld dword [rbx]: x87 on MMIO, which ferry cannot emulate
  MmioMachine m(code);
  ASSERT_TRUE(m.machine);
  m.fake.annotate_mmio(m.entry, {.gva = MmioMachine::kTestDevice});
  m.fake.execute_guest(0);
  m.machine->start();
  const vmm::Outcome outcome = m.machine->wait();
  ASSERT_EQ(outcome.reason, vmm::Outcome::Reason::kError);
  EXPECT_THAT(vmm::describe(outcome), ::testing::HasSubstr("unsupported instruction fld"));
  EXPECT_THAT(vmm::describe(outcome), ::testing::HasSubstr("d9 03"));
  EXPECT_THAT(vmm::describe(outcome), ::testing::HasSubstr("rip="));
}

}  // namespace
}  // namespace ferry::test

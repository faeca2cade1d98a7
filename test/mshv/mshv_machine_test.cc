// The Machine on the MSHV backend, as far as the fake allows: the whole VM is built (memory,
// vCPUs, CPUID, the test device's GSI, the UART's pin on the userspace IOAPIC), and a guest
// that prints over the UART with REP OUTSB and leaves through the exit port ends it with its
// status; MMIO instructions reach the test device on the Machine's bus through lib/x86. The fake
// cannot execute the built-in guests' C code, so the tests replace the code at the entry point
// with port I/O and annotated MMIO instructions and give the registers they need.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <span>
#include <string>

#include "fake_mshv_driver.h"
#include "ferry/mshv/mshv_hypervisor.h"
#include "ferry/vmm/machine.h"
#include "ferry/vmm/memory_layout.h"
#include "ferry/vmm/power_control.h"
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

// A Machine whose guest runs `out dx, al` with the given port and value, then hlt.
vmm::Outcome run_port_write(bool acpi, uint16_t port, uint8_t value,
                            std::optional<uint64_t>* rsdp = nullptr,
                            std::string* tables_start = nullptr) {
  FakeMshvDriver fake(fake_options_with_host_cpuid());
  auto hypervisor = MshvHypervisor::open(fake);
  EXPECT_TRUE(hypervisor);
  if (!hypervisor) return {};
  TempDir dir;
  vmm::VmConfig config = fake_machine_config(dir.path() + "/serial.txt");
  config.acpi = acpi;
  auto machine = vmm::Machine::create(**hypervisor, config);
  EXPECT_TRUE(machine) << machine.error().message();
  if (!machine) return {};
  const uint64_t entry = fake.vp_register(0, kHvRegRip).low;
  const uint8_t code[] = {0xee, 0xf4};  // out dx, al; hlt
  EXPECT_TRUE((*machine)->memory().write(entry, code));
  fake.set_vp_register(0, kHvRegRdx, {port, 0});
  fake.set_vp_register(0, kHvRegRax, {value, 0});
  fake.execute_guest(0);
  if (rsdp) *rsdp = (*machine)->acpi_rsdp();
  if (tables_start) {
    const uint8_t* at = (*machine)->memory().host_span(vmm::kAcpiTablesBase, 8);
    if (at) *tables_start = std::string(reinterpret_cast<const char*>(at), 8);
  }
  (*machine)->start();
  return (*machine)->wait();
}

TEST(MshvMachine, SleepEnableWithS5PowersTheMachineOffWithStatus0) {
  const vmm::Outcome outcome = run_port_write(false, vmm::kSleepControlPort, 0x34);
  EXPECT_EQ(outcome.reason, vmm::Outcome::Reason::kPowerOff) << vmm::describe(outcome);
  EXPECT_EQ(vmm::exit_status(outcome), 0);
}

TEST(MshvMachine, AnotherSleepValueDoesNothing) {
  const vmm::Outcome outcome = run_port_write(false, vmm::kSleepControlPort, 0x14);  // no SLP_EN
  EXPECT_EQ(outcome.reason, vmm::Outcome::Reason::kHalted) << vmm::describe(outcome);
}

TEST(MshvMachine, TheResetRegisterEndsTheMachineAsAReset) {
  const vmm::Outcome outcome = run_port_write(false, vmm::kResetPort, vmm::kResetValue);
  EXPECT_EQ(outcome.reason, vmm::Outcome::Reason::kReset) << vmm::describe(outcome);
  EXPECT_EQ(vmm::exit_status(outcome), 3);
}

TEST(MshvMachine, AcpiTablesAreWrittenOnlyWhenAskedFor) {
  std::optional<uint64_t> rsdp;
  std::string start;
  run_port_write(true, vmm::kSleepControlPort, 0x34, &rsdp, &start);
  EXPECT_EQ(rsdp, vmm::kAcpiTablesBase);
  EXPECT_EQ(start, "RSD PTR ");
  run_port_write(false, vmm::kSleepControlPort, 0x34, &rsdp, &start);
  EXPECT_EQ(rsdp, std::nullopt);
  EXPECT_EQ(start, std::string(8, '\0'));
}

TEST(MshvMachine, APayloadOverTheAcpiTablesIsRefused) {
  FakeMshvDriver fake(fake_options_with_host_cpuid());
  auto hypervisor = MshvHypervisor::open(fake);
  ASSERT_TRUE(hypervisor);
  TempDir dir;
  vmm::VmConfig config = fake_machine_config(dir.path() + "/serial.txt");
  config.acpi = true;
  config.payload.builtin.clear();
  config.payload.file = dir.write("flat.bin", std::string(16, '\xf4'));
  config.payload.format = vmm::PayloadFormat::kFlat;
  config.payload.mode = vmm::BootMode::kReal;
  config.payload.load_address = 0xefff0;
  auto machine = vmm::Machine::create(**hypervisor, config);
  ASSERT_FALSE(machine);
  EXPECT_THAT(machine.error().message(), ::testing::HasSubstr("overlaps the ACPI tables"));
}

}  // namespace
}  // namespace ferry::test

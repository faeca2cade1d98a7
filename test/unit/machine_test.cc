// Machine::create with StrictMock accelerators: what it asks of the hypervisor, and that a failure
// at any step is reported and leaves nothing behind.
#include "ferry/vmm/machine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/vmm/builtin_payloads.h"
#include "ferry/vmm/linux_boot.h"
#include "support/bzimage_builder.h"
#include "support/mock_accel.h"
#include "support/temp_dir.h"

namespace ferry::vmm {
namespace {

using test::MockHypervisor;
using test::MockVcpu;
using test::StrictMockVm;
using ::testing::_;
using ::testing::DoAll;
using ::testing::HasSubstr;
using ::testing::NiceMock;
using ::testing::Return;
using ::testing::StrictMock;

// A VM mock that records its own destruction.
class TrackedVm : public StrictMockVm {
 public:
  explicit TrackedVm(bool* destroyed) : destroyed_(destroyed) {}
  ~TrackedVm() override { *destroyed_ = true; }

 private:
  bool* destroyed_;
};

VmConfig hello_config(unsigned vcpus = 1) {
  VmConfig config;
  config.name = "unit";
  config.vcpus = vcpus;
  config.memory_size = 4 * kMiB;
  config.payload = find_builtin_payload("hello")->config();
  config.serial.mode = SerialMode::kOff;
  return config;
}

class MachineCreate : public ::testing::Test {
 protected:
  // Hands out a TrackedVm whose memory mapping is expected.
  void expect_vm(uint64_t memory_size = 4 * kMiB) {
    auto vm = std::make_unique<TrackedVm>(&vm_destroyed_);
    vm_ = vm.get();
    EXPECT_CALL(*vm_, map_memory(0, 0xa0000, _, true)).WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(*vm_, map_memory(0xc0000, memory_size - 0xc0000, _, true))
        .WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(hypervisor_, create_vm(_))
        .WillOnce(Return(::testing::ByMove(Expected<std::unique_ptr<accel::Vm>>(std::move(vm)))));
  }

  StrictMock<MockHypervisor> hypervisor_;
  TrackedVm* vm_ = nullptr;
  bool vm_destroyed_ = false;
};

TEST(MachineOutcome, StatusesAndWhichEndsShowTheConsoleTail) {
  using Reason = Outcome::Reason;
  EXPECT_EQ(exit_status(Outcome::because(Reason::kReset)), 3);
  EXPECT_EQ(exit_status(Outcome::because(Reason::kQuit)), 0);
  EXPECT_EQ(exit_status(Outcome::because(Reason::kPowerOff)), 0);
  EXPECT_EQ(exit_status(Outcome::failed(Error(Errc::kInternal, "x"))), 1);
  EXPECT_THAT(describe(Outcome::because(Reason::kQuit)), HasSubstr("Ctrl-A x"));
  EXPECT_TRUE(ended_abnormally(Outcome::because(Reason::kReset)));
  EXPECT_TRUE(ended_abnormally(Outcome::failed(Error(Errc::kInternal, "x"))));
  for (Reason normal : {Reason::kPowerOff, Reason::kHalted, Reason::kQuit}) {
    EXPECT_FALSE(ended_abnormally(Outcome::because(normal)));
  }
  EXPECT_FALSE(ended_abnormally(Outcome::guest_exit(7)));
  EXPECT_FALSE(ended_abnormally(Outcome::stopped(15)));
}

TEST_F(MachineCreate, AnAcceleratorThatRefusesTheVmIsReported) {
  EXPECT_CALL(hypervisor_, supported_cpuid())
      .WillOnce(Return(Expected<std::vector<accel::CpuidEntry>>{}));
  EXPECT_CALL(hypervisor_, create_vm(_))
      .WillOnce(Return(::testing::ByMove(
          Expected<std::unique_ptr<accel::Vm>>(fail(Errc::kNoResources, "no more VMs")))));
  auto machine = Machine::create(hypervisor_, hello_config());
  ASSERT_FALSE(machine);
  EXPECT_EQ(machine.error().message(), "no more VMs");
}

TEST_F(MachineCreate, AFailureAfterTheVmExistsDestroysIt) {
  expect_vm();
  EXPECT_CALL(hypervisor_, supported_cpuid())
      .WillOnce(Return(Expected<std::vector<accel::CpuidEntry>>{}));
  EXPECT_CALL(*vm_, create_vcpu(0))
      .WillOnce(Return(::testing::ByMove(
          Expected<std::unique_ptr<accel::Vcpu>>(fail(Errc::kNoResources, "vCPU refused")))));
  auto machine = Machine::create(hypervisor_, hello_config());
  ASSERT_FALSE(machine);
  EXPECT_EQ(machine.error().message(), "vCPU refused");
  EXPECT_TRUE(vm_destroyed_);
}

TEST_F(MachineCreate, EachVcpuGetsItsCpuidEntryStateAndStartsRunnable) {
  expect_vm();
  EXPECT_CALL(hypervisor_, supported_cpuid())
      .WillOnce(Return(Expected<std::vector<accel::CpuidEntry>>(
          std::vector<accel::CpuidEntry>{{1, 0, 0, 0, 0, 0, 0}})));
  for (unsigned i = 0; i < 2; ++i) {
    auto vcpu = std::make_unique<NiceMock<MockVcpu>>();
    ON_CALL(*vcpu, get_special_regs()).WillByDefault(Return(accel::SpecialRegs{}));
    ON_CALL(*vcpu, set_special_regs(_)).WillByDefault(Return(Expected<void>{}));
    ON_CALL(*vcpu, set_regs(_)).WillByDefault(Return(Expected<void>{}));
    EXPECT_CALL(
        *vcpu,
        set_cpuid(::testing::ElementsAre(::testing::Field(&accel::CpuidEntry::ebx, i << 24))))
        .WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(*vcpu, set_mp_state(accel::MpState::kRunnable)).WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(*vm_, create_vcpu(i))
        .WillOnce(Return(::testing::ByMove(Expected<std::unique_ptr<accel::Vcpu>>(
            std::unique_ptr<accel::Vcpu>(std::move(vcpu))))));
  }
  auto machine = Machine::create(hypervisor_, hello_config(2));
  ASSERT_TRUE(machine) << machine.error().message();
  machine->reset();
  EXPECT_TRUE(vm_destroyed_);
}

TEST_F(MachineCreate, ALinuxKernelStartsOnVcpu0AndTheOthersWaitForSipi) {
  test::TempDir dir;
  const std::vector<uint8_t> image = test::BzImageBuilder().bytes();
  VmConfig config = hello_config(3);
  config.memory_size = 32 * kMiB;
  config.payload = PayloadConfig{};
  config.payload.format = PayloadFormat::kLinux;
  config.payload.file = dir.write("bzImage", std::string(image.begin(), image.end()));
  config.payload.cmdline = "console=ttyS0";
  expect_vm(config.memory_size);
  EXPECT_CALL(hypervisor_, supported_cpuid())
      .WillOnce(Return(Expected<std::vector<accel::CpuidEntry>>{}));
  accel::Regs boot_regs;
  for (unsigned i = 0; i < 3; ++i) {
    auto vcpu = std::make_unique<NiceMock<MockVcpu>>();
    ON_CALL(*vcpu, get_special_regs()).WillByDefault(Return(accel::SpecialRegs{}));
    ON_CALL(*vcpu, set_special_regs(_)).WillByDefault(Return(Expected<void>{}));
    ON_CALL(*vcpu, set_cpuid(_)).WillByDefault(Return(Expected<void>{}));
    if (i == 0) {
      EXPECT_CALL(*vcpu, set_regs(_))
          .WillRepeatedly(DoAll(::testing::SaveArg<0>(&boot_regs), Return(Expected<void>{})));
      EXPECT_CALL(*vcpu, set_mp_state(accel::MpState::kRunnable))
          .WillOnce(Return(Expected<void>{}));
    } else {
      // An application processor gets no entry registers: Linux sends it INIT and SIPI.
      EXPECT_CALL(*vcpu, set_regs(_)).Times(0);
      EXPECT_CALL(*vcpu, set_mp_state(accel::MpState::kWaitForSipi))
          .WillOnce(Return(Expected<void>{}));
    }
    EXPECT_CALL(*vm_, create_vcpu(i))
        .WillOnce(Return(::testing::ByMove(Expected<std::unique_ptr<accel::Vcpu>>(
            std::unique_ptr<accel::Vcpu>(std::move(vcpu))))));
  }
  auto machine = Machine::create(hypervisor_, config);
  ASSERT_TRUE(machine) << machine.error().message();
  EXPECT_EQ(boot_regs.rip, 0x1000200u);
  EXPECT_EQ(boot_regs.rsi, kLinuxBootParamsAddress);
  const uint8_t* cmdline = (*machine)->memory().host_span(kLinuxCmdlineAddress, 14);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(cmdline)), "console=ttyS0");
  EXPECT_EQ(*(*machine)->memory().host_span(0x1000000, 1), image[4 * 512]);  // the kernel
  machine->reset();
}

TEST_F(MachineCreate, AMissingPayloadFileIsReportedBeforeAnyVcpuExists) {
  expect_vm();
  EXPECT_CALL(hypervisor_, supported_cpuid())
      .WillOnce(Return(Expected<std::vector<accel::CpuidEntry>>{}));
  VmConfig config = hello_config();
  config.payload.builtin.clear();
  config.payload.file = "/nonexistent/guest.elf";
  auto machine = Machine::create(hypervisor_, config);
  ASSERT_FALSE(machine);
  EXPECT_THAT(machine.error().message(), HasSubstr("/nonexistent/guest.elf"));
  EXPECT_TRUE(vm_destroyed_);
}

}  // namespace
}  // namespace ferry::vmm

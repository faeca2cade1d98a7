// The VM lifecycle on real KVM: exit accounting, pause/resume/stop from another thread, resets,
// and the errors a vCPU run can end with.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/kvm.h>

#include <thread>

#include "exitloop_image.h"
#include "ferry/kvm/kvm_hypervisor.h"
#include "guest_runner.h"
#include "support/kvm_required.h"

namespace ferry::test {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using Reason = vmm::Outcome::Reason;
using namespace std::chrono_literals;

vmm::VmConfig flat_config(const std::string& file, uint64_t address, vmm::BootMode mode,
                          const TempDir& dir) {
  vmm::VmConfig config;
  config.name = "lifecycle";
  config.memory_size = 4 * kMiB;
  config.payload.file = file;
  config.payload.format = vmm::PayloadFormat::kFlat;
  config.payload.load_address = address;
  config.payload.mode = mode;
  config.serial.mode = vmm::SerialMode::kFile;
  config.serial.path = dir.path() + "/serial.txt";
  return config;
}

class LifecycleOnKvm : public ::testing::Test {
 protected:
  void SetUp() override { FERRY_REQUIRE_KVM(); }
  TempDir dir_;
};

TEST_F(LifecycleOnKvm, EveryGuestExitIsCountedOnce) {
  auto kvm = open_kvm();
  auto file = write_exitloop(dir_, 1000, 300);
  auto result = run_guest(*kvm, flat_config(file, 0xf0000, vmm::BootMode::kReal, dir_), dir_);
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->outcome.reason, Reason::kGuestExit);
  EXPECT_EQ(result->outcome.code, 0);
  EXPECT_EQ(result->serial, "!");
  // '!' to COM1, 1000 to port 0x80, 1 to the exit port; 300 unclaimed MMIO writes.
  EXPECT_EQ(result->stats.io.pio, 1002u);
  EXPECT_EQ(result->stats.io.mmio, 300u);
  EXPECT_EQ(result->stats.io.unclaimed, 1300u);
}

TEST_F(LifecycleOnKvm, PauseHoldsEveryVcpuOutOfTheGuestAndResumeLetsThemGo) {
  auto kvm = open_kvm();
  auto file = write_exitloop(dir_, 0xffffffff, 0);  // runs for hours
  auto machine = vmm::Machine::create(*kvm, flat_config(file, 0xf0000, vmm::BootMode::kReal, dir_));
  ASSERT_TRUE(machine) << machine.error().message();
  (*machine)->start();
  std::this_thread::sleep_for(50ms);
  (*machine)->pause();
  const uint64_t paused_at = (*machine)->stats().exits;
  EXPECT_GT(paused_at, 0u);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ((*machine)->stats().exits, paused_at) << "a paused vCPU kept running";
  (*machine)->resume();
  std::this_thread::sleep_for(100ms);
  EXPECT_GT((*machine)->stats().exits, paused_at) << "resume did not restart the vCPU";
  const auto begin = std::chrono::steady_clock::now();
  (*machine)->stop(SIGTERM);
  const vmm::Outcome outcome = (*machine)->wait();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);
  EXPECT_EQ(outcome.reason, Reason::kStopped);
  EXPECT_EQ(vmm::exit_status(outcome), 128 + SIGTERM);
}

TEST_F(LifecycleOnKvm, StopEndsAMultiVcpuGuestBusyInsideTheGuest) {
  auto kvm = open_kvm();
  auto file = write_exitloop(dir_, 0xffffffff, 0);
  auto config = flat_config(file, 0xf0000, vmm::BootMode::kReal, dir_);
  config.vcpus = 4;
  auto result = run_guest(*kvm, config, dir_, 200ms);  // the watchdog stops it
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_TRUE(result->timed_out);
  EXPECT_EQ(result->outcome.reason, Reason::kStopped);
}

TEST_F(LifecycleOnKvm, ATripleFaultEndsTheVmAsAReset) {
  auto kvm = open_kvm();
  // ud2 with an empty IDT: #UD -> #GP -> #DF -> triple fault. (Not int3: this PVM host's
  // emulator gives up on int3 with an empty IDT and reports an internal error instead.)
  auto file = dir_.write("ud2.bin", std::string("\x0f\x0b", 2));
  auto result = run_guest(*kvm, flat_config(file, 0x100000, vmm::BootMode::kProtected, dir_), dir_);
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->outcome.reason, Reason::kReset) << vmm::describe(result->outcome);
  EXPECT_EQ(vmm::exit_status(result->outcome), 3);
}

// A KvmSys that reports a chosen exit reason after a real KVM_RUN, for the exits real KVM will
// not produce on demand.
class ForcedExitSys : public kvm::KvmSys {
 public:
  explicit ForcedExitSys(uint32_t reason) : reason_(reason) {}
  Expected<Mapping> map(int fd, size_t size, off_t offset) override {
    auto mapping = KvmSys::map(fd, size, offset);
    if (mapping) run_ = reinterpret_cast<kvm_run*>(mapping->data());
    return mapping;
  }
  int ioctl(int fd, unsigned long request, void* arg) override {
    int result = KvmSys::ioctl(fd, request, arg);
    if (request == KVM_RUN && result == 0 && run_ != nullptr) {
      run_->exit_reason = reason_;
      if (reason_ == KVM_EXIT_FAIL_ENTRY) run_->fail_entry.hardware_entry_failure_reason = 0x21;
      if (reason_ == KVM_EXIT_INTERNAL_ERROR) {
        run_->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
        run_->internal.ndata = 2;
        run_->internal.data[0] = 0xabc;
        run_->internal.data[1] = 0xdef;
      }
    }
    return result;
  }

 private:
  uint32_t reason_;
  kvm_run* run_ = nullptr;
};

class RunErrorsOnKvm : public LifecycleOnKvm,
                       public ::testing::WithParamInterface<std::pair<uint32_t, const char*>> {};

TEST_P(RunErrorsOnKvm, EndTheVmWithTheReasonAndARegisterDump) {
  ForcedExitSys sys(GetParam().first);
  auto kvm = kvm::KvmHypervisor::open(sys);
  ASSERT_TRUE(kvm) << kvm.error().message();
  auto file = write_exitloop(dir_, 10, 0);
  auto result = run_guest(**kvm, flat_config(file, 0xf0000, vmm::BootMode::kReal, dir_), dir_);
  ASSERT_TRUE(result) << result.error().message();
  ASSERT_EQ(result->outcome.reason, Reason::kError);
  ASSERT_TRUE(result->outcome.error);
  const std::string& message = result->outcome.error->message();
  EXPECT_THAT(message, HasSubstr(GetParam().second));
  EXPECT_THAT(message, HasSubstr("vCPU 0: "));
  // The dump shows the real-mode state the guest was in.
  EXPECT_THAT(message, HasSubstr("cs  sel=f000 base=00000000000f0000"));
  EXPECT_THAT(message, MatchesRegex("(.|\n)*rip=[0-9a-f]{16} rflags=(.|\n)*"));
  EXPECT_EQ(vmm::exit_status(result->outcome), 1);
}

INSTANTIATE_TEST_SUITE_P(
    Exits, RunErrorsOnKvm,
    ::testing::Values(
        std::make_pair(uint32_t{KVM_EXIT_FAIL_ENTRY},
                       "the CPU refused to enter the guest (hardware entry failure reason 0x21)"),
        std::make_pair(uint32_t{KVM_EXIT_INTERNAL_ERROR},
                       "KVM internal error 1: KVM could not emulate an instruction; data: 0xabc "
                       "0xdef"),
        std::make_pair(uint32_t{KVM_EXIT_SYSTEM_EVENT}, "the guest reported a system event"),
        std::make_pair(uint32_t{1234}, "unhandled KVM exit reason 1234")));

}  // namespace
}  // namespace ferry::test

// Every built-in guest, run by vmm::Machine on real KVM.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "guest_runner.h"
#include "support/kvm_required.h"

namespace ferry::test {
namespace {

using ::testing::HasSubstr;
using Reason = vmm::Outcome::Reason;

class GuestsOnKvm : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_KVM();
    kvm_ = open_kvm();
    ASSERT_NE(kvm_, nullptr);
  }
  GuestResult run(const vmm::VmConfig& config) {
    auto result = run_guest(*kvm_, config, dir_);
    EXPECT_TRUE(result) << result.error().message();
    if (!result) return {};
    EXPECT_FALSE(result->timed_out) << "the guest did not finish; serial so far:\n"
                                    << result->serial;
    return *result;
  }
  // A built-in guest must end by writing `status` to the exit port.
  GuestResult expect_exit(const vmm::VmConfig& config, int status) {
    GuestResult result = run(config);
    EXPECT_EQ(result.outcome.reason, Reason::kGuestExit) << vmm::describe(result.outcome);
    EXPECT_EQ(result.outcome.code, status) << "serial:\n" << result.serial;
    return result;
  }

  TempDir dir_;
  std::unique_ptr<accel::Hypervisor> kvm_;
};

TEST_F(GuestsOnKvm, HelloInLongMode) {
  auto result = expect_exit(builtin_config("hello", dir_), 0);
  EXPECT_EQ(result.serial, "Hello from a ferry guest in 64-bit long mode on vCPU 0 of 1.\n");
}

TEST_F(GuestsOnKvm, HelloInProtectedMode) {
  auto result = expect_exit(builtin_config("hello32", dir_), 0);
  EXPECT_EQ(result.serial, "Hello from a ferry guest in 32-bit protected mode on vCPU 0 of 1.\n");
}

TEST_F(GuestsOnKvm, HelloInRealMode) {
  auto result = expect_exit(builtin_config("hello16", dir_), 0);
  EXPECT_EQ(result.serial, "Hello from a ferry guest in 16-bit real mode on vCPU 0 of 1.\n");
}

TEST_F(GuestsOnKvm, MmioReadsAndWritesOfEveryWidthReachTheTestDevice) {
  auto result = expect_exit(builtin_config("mmio", dir_), 0);
  EXPECT_EQ(result.serial, "mmio: 14 checks passed\n");
  EXPECT_GE(result.stats.io.mmio, 19u);  // 14 to the device, 5 unclaimed
  EXPECT_GE(result.stats.io.unclaimed, 5u);
}

TEST_F(GuestsOnKvm, MsisFromTheTestDeviceArriveThroughRoutingAndIrqfd) {
  auto result = expect_exit(builtin_config("irq", dir_), 0);
  EXPECT_THAT(result.serial, HasSubstr("irq: 3 MSIs delivered, each exactly once"));
}

TEST_F(GuestsOnKvm, TheUartInterruptsThroughTheIoapicEdgeAndLevel) {
  auto result = expect_exit(builtin_config("ioapic", dir_), 0);
  EXPECT_THAT(result.serial,
              HasSubstr("ioapic: 2 edge interrupts, and a level interrupt re-fired after its EOI"));
}

class SmpOnKvm : public GuestsOnKvm, public ::testing::WithParamInterface<unsigned> {};

TEST_P(SmpOnKvm, EveryVcpuStartsWithItsOwnIndexAndApicId) {
  const unsigned vcpus = GetParam();
  auto result = expect_exit(builtin_config("smp", dir_, vcpus), static_cast<int>(vcpus));
  for (unsigned i = 0; i < vcpus; ++i) {
    EXPECT_THAT(result.serial, HasSubstr(fmt::format("vCPU {} up, APIC ID {}\n", i, i)));
  }
  EXPECT_THAT(result.serial, HasSubstr(fmt::format("all {} vCPUs checked in", vcpus)));
}

INSTANTIATE_TEST_SUITE_P(VcpuCounts, SmpOnKvm, ::testing::Values(1u, 2u, 4u, 8u));

}  // namespace
}  // namespace ferry::test

// Program conformance: the same instructions (port I/O and MMIO), from the same registers and
// memory, on real KVM and on MSHV (over the fake driver, with lib/x86 for MMIO) must produce the
// same GuestIo traffic, registers and memory. Each program states what the CPU does
// (conformance_programs.h); every backend is held to it, and a cross test compares the backends
// access for access and register for register.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "conformance_programs.h"
#include "support/kvm_required.h"

namespace ferry::test {
namespace {

using ::testing::ElementsAreArray;

class ProgramConformanceTest
    : public ::testing::TestWithParam<std::tuple<std::string, Expectation>> {
 protected:
  void SetUp() override {
    if (std::get<0>(GetParam()) == "kvm") FERRY_REQUIRE_KVM();
  }
};

TEST_P(ProgramConformanceTest, Program) {
  const auto& [backend_name, expected] = GetParam();
  auto backend = ConformanceBackend::make(backend_name);
  auto run = run_program(*backend, expected.program);
  ASSERT_TRUE(run) << run.error().message();
  if (expected.access_count != 0) {
    EXPECT_EQ(run->accesses.size(), expected.access_count);
  } else {
    EXPECT_THAT(run->accesses, ElementsAreArray(expected.accesses));
  }
  expected.check_regs(run->regs);
  EXPECT_EQ(run->watched, expected.watched);
}

// Both backends, compared with each other: traffic, every general register and RFLAGS.
class ProgramCrossBackendTest : public ::testing::TestWithParam<Expectation> {
 protected:
  void SetUp() override { FERRY_REQUIRE_KVM(); }
};

TEST_P(ProgramCrossBackendTest, KvmAndMshvAgree) {
  auto kvm = ConformanceBackend::make("kvm");
  auto mshv = ConformanceBackend::make("mshv");
  auto on_kvm = run_program(*kvm, GetParam().program);
  auto on_mshv = run_program(*mshv, GetParam().program);
  ASSERT_TRUE(on_kvm) << on_kvm.error().message();
  ASSERT_TRUE(on_mshv) << on_mshv.error().message();
  EXPECT_THAT(on_mshv->accesses, ElementsAreArray(on_kvm->accesses));
  const accel::Regs& k = on_kvm->regs;
  const accel::Regs& m = on_mshv->regs;
  EXPECT_EQ(accel::format_registers(m, {}), accel::format_registers(k, {}));
  EXPECT_EQ(on_mshv->watched, on_kvm->watched);
}

std::string backend_and_program(
    const ::testing::TestParamInfo<std::tuple<std::string, Expectation>>& info) {
  return std::get<0>(info.param) + "_" + std::get<1>(info.param).program.name;
}

std::string program_name(const ::testing::TestParamInfo<Expectation>& info) {
  return info.param.program.name;
}

INSTANTIATE_TEST_SUITE_P(Pio, ProgramConformanceTest,
                         ::testing::Combine(::testing::Values("kvm", "mshv"),
                                            ::testing::ValuesIn(pio_programs())),
                         backend_and_program);
INSTANTIATE_TEST_SUITE_P(Pio, ProgramCrossBackendTest, ::testing::ValuesIn(pio_programs()),
                         program_name);
INSTANTIATE_TEST_SUITE_P(Mmio, ProgramConformanceTest,
                         ::testing::Combine(::testing::Values("kvm", "mshv"),
                                            ::testing::ValuesIn(mmio_programs())),
                         backend_and_program);
INSTANTIATE_TEST_SUITE_P(Mmio, ProgramCrossBackendTest, ::testing::ValuesIn(mmio_programs()),
                         program_name);

}  // namespace
}  // namespace ferry::test

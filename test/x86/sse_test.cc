// SSE moves between XMM registers and memory: the FPU handshake, the forms, the faults.
#include <cstring>

#include "emulator_fixture.h"

namespace ferry::x86::test {
namespace {

using Bytes = std::vector<uint8_t>;

TEST_F(LongModeTest, SseMovesNeedTheFpuFirst) {
  state.regs.rax = kMmioLinear;
  auto outcome = run({0xf3, 0x0f, 0x7f, 0x00});  // movdqu [rax], xmm0
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->kind, Outcome::Kind::kNeedsFpu);
  EXPECT_TRUE(platform.mmio().empty());
  EXPECT_EQ(state.regs.rip, kCodeLinear);

  state.fpu.emplace();
  for (int i = 0; i < 16; ++i) state.fpu->xmm[0][i] = static_cast<uint8_t>(i);
  const auto log = run_done({0xf3, 0x0f, 0x7f, 0x00});
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].data.size(), 16u);
  EXPECT_EQ(log[0].data[15], 15);
}

TEST_F(LongModeTest, SseLoadsZeroExtendAndReportWrittenRegisters) {
  state.fpu.emplace();
  state.fpu->xmm[9].fill(0xee);
  state.regs.rax = kMmioLinear;
  auto outcome = run({0x66, 0x44, 0x0f, 0x6e, 0x08});  // movd xmm9, [rax]
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->xmm_written, 1u << 9);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(state.fpu->xmm[9][i], mmio_byte(kMmioGpa + i));
  for (int i = 4; i < 16; ++i) EXPECT_EQ(state.fpu->xmm[9][i], 0);

  state.regs.rip = kCodeLinear;
  state.regs.rcx = kMmioLinear;
  state.fpu->xmm[1].fill(0x77);
  run_done({0x66, 0x48, 0x0f, 0x7e, 0x09});  // movq [rcx], xmm1
  EXPECT_EQ(platform.mmio(), std::vector{write_of(kMmioGpa, Bytes(8, 0x77))});
}

// KVM's emulator refuses these forms, so the differential test cannot check them: each is
// checked here against the SDM (load: the element, upper bytes zeroed; store: the element only).
struct SseCase {
  const char* name;
  Bytes bytes;  // xmm3 <-> [rax]
  bool load;
  unsigned element;  // bytes moved
};

void PrintTo(const SseCase& c, std::ostream* out) { *out << c.name; }

class SseFormTest : public LongModeTest, public ::testing::WithParamInterface<SseCase> {};

TEST_P(SseFormTest, MovesTheElement) {
  const SseCase& c = GetParam();
  state.fpu.emplace();
  state.fpu->xmm[3].fill(0xcc);
  state.regs.rax = kMmioLinear + 0x80;
  state.regs.rip = kCodeLinear;
  const auto log = run_done(c.bytes);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].gpa, kMmioGpa + 0x80);
  EXPECT_EQ(log[0].data.size(), c.element);
  EXPECT_EQ(log[0].write, !c.load);
  for (unsigned i = 0; i < 16; ++i) {
    const uint8_t expected = !c.load ? 0xcc : i < c.element ? mmio_byte(kMmioGpa + 0x80 + i) : 0;
    EXPECT_EQ(state.fpu->xmm[3][i], expected) << "byte " << i;
  }
  if (!c.load) {
    EXPECT_EQ(log[0].data, Bytes(c.element, 0xcc));
  }
}

INSTANTIATE_TEST_SUITE_P(
    KvmRefuses, SseFormTest,
    ::testing::Values(SseCase{"movd_load", {0x66, 0x0f, 0x6e, 0x18}, true, 4},
                      SseCase{"movd_store", {0x66, 0x0f, 0x7e, 0x18}, false, 4},
                      SseCase{"movq_rexw_load", {0x66, 0x48, 0x0f, 0x6e, 0x18}, true, 8},
                      SseCase{"movq_rexw_store", {0x66, 0x48, 0x0f, 0x7e, 0x18}, false, 8},
                      SseCase{"movq_load", {0xf3, 0x0f, 0x7e, 0x18}, true, 8},
                      SseCase{"movq_store", {0x66, 0x0f, 0xd6, 0x18}, false, 8},
                      SseCase{"movss_load", {0xf3, 0x0f, 0x10, 0x18}, true, 4},
                      SseCase{"movss_store", {0xf3, 0x0f, 0x11, 0x18}, false, 4},
                      SseCase{"movsd_load", {0xf2, 0x0f, 0x10, 0x18}, true, 8},
                      SseCase{"movsd_store", {0xf2, 0x0f, 0x11, 0x18}, false, 8},
                      SseCase{"movntdq_store", {0x66, 0x0f, 0xe7, 0x18}, false, 16}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST_F(LongModeTest, MovdToGeneralRegisterIsNotMemory) {
  state.fpu.emplace();
  auto outcome = run({0x66, 0x0f, 0x7e, 0xc1});  // movd ecx, xmm0: never an MMIO intercept
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code(), Errc::kUnsupported);
}

TEST_F(LongModeTest, SseAlignmentAndControlRegisterFaults) {
  state.fpu.emplace();
  state.regs.rax = kMmioLinear + 8;
  Fault fault = run_fault({0x66, 0x0f, 0x6f, 0x00});  // movdqa xmm0, [rax]
  EXPECT_EQ(fault.vector, Vector::kGp);
  run_done({0x0f, 0x10, 0x00});  // movups xmm0, [rax] may be misaligned
  state.regs.rip = kCodeLinear;
  state.sregs.cr0 |= kCr0Ts;
  EXPECT_EQ(run_fault({0x0f, 0x10, 0x00}).vector, Vector::kNm);
  state.sregs.cr4 &= ~accel::kCr4Osfxsr;
  EXPECT_EQ(run_fault({0x0f, 0x10, 0x00}).vector, Vector::kUd);
}

}  // namespace
}  // namespace ferry::x86::test

// Segmentation in real and protected mode: bases, limits, types, 16-bit addressing.
#include <cstring>

#include "emulator_fixture.h"

namespace ferry::x86::test {
namespace {

using Bytes = std::vector<uint8_t>;

class RealModeTest : public EmulatorTest {
 protected:
  void SetUp() override { enter_real_mode(); }
};

TEST_F(RealModeTest, SegmentBaseTimesSixteen) {
  state.sregs.es = real(0xa000);
  state.regs.rbx = 0x10;
  state.regs.rsi = 0x3;
  // mov es:[bx+si+2], ax
  EXPECT_EQ(run_done({0x26, 0x89, 0x40, 0x02}),
            std::vector{write_of(0xa0015, {static_cast<uint8_t>(state.regs.rax),
                                           static_cast<uint8_t>(state.regs.rax >> 8)})});
}

TEST_F(RealModeTest, OperandSizePrefixAndLimit) {
  state.sregs.ds = real(0xa000);
  state.regs.rbx = 0xfffe;
  const Fault fault = run_fault({0x66, 0x89, 0x07});  // mov [bx], eax: past 0xffff
  EXPECT_EQ(fault.vector, Vector::kGp);
  EXPECT_FALSE(fault.error_code.has_value());  // real mode pushes no error code
  state.regs.rbp = 0xfffe;
  state.sregs.ss = real(0xa000);
  EXPECT_EQ(run_fault({0x66, 0x89, 0x46, 0x00}).vector, Vector::kSs);
  state.regs.rbx = 0xfffc;
  EXPECT_EQ(run_done({0x66, 0x89, 0x07}).size(), 1u);
}

// mov ax, [moffs16]: a1 lo hi, through DS = 0xa000 (the legacy VGA hole: MMIO).
const Bytes kMovAxMoffs = {0xa1, 0x10, 0x00};

TEST_F(RealModeTest, AnInstructionRunningPastIp0xffffIsGpNotAWrappedFetch) {
  state.sregs.ds = real(0xa000);
  state.regs.rip = 0xfffe;
  // Two bytes given, the third beyond the CS limit: the CPU raises #GP where a fetch wrapped
  // to CS:0000 used to complete the instruction and read MMIO.
  Fault fault = run_fault({0xa1, 0x10});
  EXPECT_EQ(fault.vector, Vector::kGp);
  EXPECT_FALSE(fault.error_code.has_value());
  // All three bytes given (as an intercept hands them over): the same #GP.
  fault = run_fault(kMovAxMoffs);
  EXPECT_EQ(fault.vector, Vector::kGp);
  EXPECT_TRUE(platform.mmio().empty()) << describe(platform.mmio());
}

TEST_F(RealModeTest, AnInstructionEndingAt0xffffCompletesAndIpWraps) {
  state.sregs.ds = real(0xa000);
  state.regs.rip = 0xfffd;
  auto outcome = run(kMovAxMoffs);
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->kind, Outcome::Kind::kDone) << describe(outcome->fault);
  EXPECT_EQ(state.regs.rip, 0u);
  EXPECT_EQ(platform.mmio(), std::vector{read_of(0xa0010, 2)});
}

TEST_F(RealModeTest, GivenBytesAreCheckedAgainstASmallerCsLimit) {
  state.sregs.ds = real(0xa000);
  state.sregs.cs.limit = 0x1001;  // left so by protected mode ("unreal" limits)
  state.regs.rip = 0x1000;
  EXPECT_EQ(run_fault(kMovAxMoffs).vector, Vector::kGp);
  state.sregs.cs.limit = 0x1002;
  EXPECT_EQ(run_done(kMovAxMoffs).size(), 1u);
}

TEST_F(RealModeTest, DataAccessesDoNotWrapAt0xffff) {
  state.sregs.ds = real(0xa000);
  state.regs.rbx = 0xffff;
  EXPECT_EQ(run_fault({0x89, 0x07}).vector, Vector::kGp);  // mov [bx], ax: the word crosses
  EXPECT_EQ(run_done({0x88, 0x07}), std::vector{write_of(0xaffff, {0})});  // mov [bx], al
}

class ProtectedModeTest : public EmulatorTest {
 protected:
  void SetUp() override {
    enter_real_mode();
    state.sregs.cr0 = accel::kCr0Pe;
    state.sregs.cs = flat(0xb, false);
    state.sregs.ds = state.sregs.es = state.sregs.ss = flat(0x3, false);
  }
};

TEST_F(ProtectedModeTest, SegmentBaseAndWrapAt4GiB) {
  state.sregs.ds.base = 0xa0000000;
  state.regs.rax = 0x40000010;
  EXPECT_EQ(run_done({0x88, 0x20}), std::vector{write_of(0xe0000010, {0})});  // mov [eax], ah
  state.regs.rip = kCodeLinear;
  state.sregs.ds.base = 0xf0000000;
  state.regs.rax = 0xf0000000;  // base + offset wraps to 0xe0000000
  EXPECT_EQ(run_done({0x88, 0x20}).back().gpa, 0xe0000000u);
}

TEST_F(ProtectedModeTest, SegmentTypesAndNullSegments) {
  state.regs.rax = 0xe0000000;
  state.sregs.ds.type = 0x1;  // read-only data
  EXPECT_EQ(run_fault({0x89, 0x00}).vector, Vector::kGp);
  run_done({0x8b, 0x00});
  state.regs.rip = kCodeLinear;
  EXPECT_EQ(run_fault({0x2e, 0x89, 0x00}).vector, Vector::kGp);  // write through CS
  state.sregs.es.unusable = true;
  EXPECT_EQ(run_fault({0x26, 0x8b, 0x00}).vector, Vector::kGp);
}

TEST_F(ProtectedModeTest, ExpandDownLimit) {
  state.sregs.ds.type = 0x7;  // expand-down read/write
  state.sregs.ds.limit = 0x0fff;
  state.regs.rax = 0x800;
  EXPECT_EQ(run_fault({0x8b, 0x00}).vector, Vector::kGp);  // offsets <= limit are invalid
  state.regs.rax = 0xe0000000;
  run_done({0x8b, 0x00});
}

TEST_F(ProtectedModeTest, SixteenBitExpandDownSegmentEndsAt0xffff) {
  state.sregs.ds.type = 0x7;  // expand-down read/write, B=0: valid offsets (limit, 0xffff]
  state.sregs.ds.db = false;
  state.sregs.ds.limit = 0x0fff;
  state.sregs.ds.base = 0xe0000000;
  state.regs.rax = 0xfffe;
  EXPECT_EQ(run_fault({0x8b, 0x00}).vector, Vector::kGp);  // mov eax, [eax]: 0xfffe-0x10001
  run_done({0x66, 0x8b, 0x00});                            // mov ax, [eax]: 0xfffe-0xffff
  state.regs.rip = kCodeLinear;
  state.sregs.ds.db = true;  // B=1: up to 0xffffffff
  state.regs.rax = 0xfffe;
  run_done({0x8b, 0x00});
}

TEST_F(ProtectedModeTest, InstructionBytesPastTheCsLimitAreGp) {
  state.sregs.cs.limit = 0x1002;
  state.sregs.cs.g = false;
  state.regs.rax = 0xe0000000;
  // mov [eax+4], ebx at 0x1000 ends at 0x1002: inside; at 0x1001 its last byte is beyond.
  run_done({0x89, 0x58, 0x04});
  state.regs.rip = 0x1001;
  Fault fault = run_fault({0x89, 0x58, 0x04});
  EXPECT_EQ(fault.vector, Vector::kGp);
  EXPECT_EQ(fault.error_code, 0u);
  fault = run_fault({0x89, 0x58});  // the same when the last byte must be fetched
  EXPECT_EQ(fault.vector, Vector::kGp);
}

TEST_F(ProtectedModeTest, SixteenBitCodeSegmentHasTheSameRule) {
  state.sregs.cs.db = false;  // 16-bit code
  state.sregs.cs.limit = 0xffff;
  state.sregs.cs.g = false;
  state.sregs.ds = state.sregs.cs;
  state.sregs.ds.type = 0x3;
  state.sregs.ds.base = 0xa0000;
  state.regs.rip = 0xfffe;
  const Fault fault = run_fault(kMovAxMoffs);
  EXPECT_EQ(fault.vector, Vector::kGp);
  EXPECT_EQ(fault.error_code, 0u);
  EXPECT_TRUE(platform.mmio().empty());
}

TEST_F(ProtectedModeTest, AnInstructionCrossing4GiBIsGp) {
  state.regs.rip = 0xffffffff;  // flat 4 GiB CS: the second byte's offset is past the limit
  state.regs.rax = 0xe0000000;
  EXPECT_EQ(run_fault({0x89, 0x18}).vector, Vector::kGp);
  EXPECT_TRUE(platform.mmio().empty());
}

TEST_F(ProtectedModeTest, SixteenBitAddressingInA32BitSegment) {
  state.sregs.ds.base = 0xe0000000;
  state.regs.rbx = 0x12345678;                                                   // only BX counts
  EXPECT_EQ(run_done({0x67, 0x8b, 0x07}), std::vector{read_of(0xe0005678, 4)});  // mov eax, [bx]
}
}  // namespace
}  // namespace ferry::x86::test

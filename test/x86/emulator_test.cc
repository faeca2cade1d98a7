// The emulator against a fake platform: each instruction family, prefixes, modes, faults.
#include <cstring>

#include "emulator_fixture.h"

namespace ferry::x86::test {
namespace {

using Bytes = std::vector<uint8_t>;

TEST_F(LongModeTest, MovStoreRegisterToMmio) {
  state.regs.rax = kMmioLinear + 0x10;
  state.regs.rbx = 0x1122334455667788;
  EXPECT_EQ(run_done({0x89, 0x18}),  // mov [rax], ebx
            std::vector{write_of(kMmioGpa + 0x10, {0x88, 0x77, 0x66, 0x55})});
}

TEST_F(LongModeTest, MovLoadZeroExtends32AndMerges16And8) {
  state.regs.rax = kMmioLinear + 0x20;
  state.regs.rcx = ~0ull;
  const uint64_t gpa = kMmioGpa + 0x20;
  uint64_t mmio = 0;
  for (int i = 0; i < 8; ++i) mmio |= uint64_t{mmio_byte(gpa + i)} << (8 * i);

  EXPECT_EQ(run_done({0x8b, 0x08}), std::vector{read_of(gpa, 4)});  // mov ecx, [rax]
  EXPECT_EQ(state.regs.rcx, mmio & 0xffffffff);
  state.regs.rcx = ~0ull;
  state.regs.rip = kCodeLinear;
  run_done({0x66, 0x8b, 0x08});  // mov cx, [rax]
  EXPECT_EQ(state.regs.rcx, 0xffffffffffff0000 | (mmio & 0xffff));
  state.regs.rcx = ~0ull;
  state.regs.rip = kCodeLinear;
  run_done({0x8a, 0x28});  // mov ch, [rax]
  EXPECT_EQ(state.regs.rcx, 0xffffffffffff00ff | ((mmio & 0xff) << 8));
  state.regs.rip = kCodeLinear;
  run_done({0x48, 0x8b, 0x08});  // mov rcx, [rax]
  EXPECT_EQ(state.regs.rcx, mmio);
}

TEST_F(LongModeTest, MovImmediateSignExtendsToQword) {
  state.regs.rdi = kMmioLinear + 8;
  EXPECT_EQ(run_done({0x48, 0xc7, 0x07, 0xfe, 0xff, 0xff, 0xff}),  // mov qword [rdi], -2
            std::vector{write_of(kMmioGpa + 8, {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})});
}

TEST_F(LongModeTest, MovMoffs64) {
  Bytes bytes = {0xa2};  // mov [moffs64], al
  for (int i = 0; i < 8; ++i)
    bytes.push_back(static_cast<uint8_t>((kMmioLinear + 0x33) >> (8 * i)));
  state.regs.rax = 0x5a;
  EXPECT_EQ(run_done(bytes), std::vector{write_of(kMmioGpa + 0x33, {0x5a})});
}

TEST_F(LongModeTest, RipRelativeAddressing) {
  // mov eax, [rip + disp32]: the displacement is from the end of the instruction.
  const uint64_t disp = kMmioLinear + 0x40 - (kCodeLinear + 6);
  const Bytes bytes = {0x8b,
                       0x05,
                       static_cast<uint8_t>(disp),
                       static_cast<uint8_t>(disp >> 8),
                       static_cast<uint8_t>(disp >> 16),
                       static_cast<uint8_t>(disp >> 24)};
  EXPECT_EQ(run_done(bytes), std::vector{read_of(kMmioGpa + 0x40, 4)});
}

TEST_F(LongModeTest, SibAddressingWithGsBase) {
  state.sregs.gs.base = 0x100000;
  state.regs.rbx = kMmioLinear - 0x100000;
  state.regs.rsi = 3;
  // mov gs:[rbx + rsi*8 + 0x10], dl
  EXPECT_EQ(run_done({0x65, 0x88, 0x54, 0xf3, 0x10}),
            std::vector{write_of(kMmioGpa + 0x28, {static_cast<uint8_t>(state.regs.rdx)})});
}

TEST_F(LongModeTest, AddressSizeOverrideTruncatesTo32Bits) {
  state.regs.rax = 0xffffffff00000000 | kMmioLinear;
  EXPECT_EQ(run_done({0x67, 0x88, 0x08}), std::vector{write_of(kMmioGpa, {0})});  // mov [eax], cl
}

TEST_F(LongModeTest, MovzxMovsxMovsxd) {
  state.regs.rax = kMmioLinear;
  const uint8_t value[] = {0x80, 0xff, 0xff, 0x80};
  platform.set_mmio_value(kMmioGpa, value);
  run_done({0x48, 0x0f, 0xb6, 0x18});  // movzx rbx, byte [rax]
  EXPECT_EQ(state.regs.rbx, 0x80u);
  state.regs.rip = kCodeLinear;
  run_done({0x48, 0x0f, 0xbe, 0x18});  // movsx rbx, byte [rax]
  EXPECT_EQ(state.regs.rbx, 0xffffffffffffff80u);
  state.regs.rip = kCodeLinear;
  run_done({0x0f, 0xbf, 0x18});  // movsx ebx, word [rax]
  EXPECT_EQ(state.regs.rbx, 0xffffff80u);
  state.regs.rip = kCodeLinear;
  run_done({0x48, 0x63, 0x18});  // movsxd rbx, dword [rax]
  EXPECT_EQ(state.regs.rbx, 0xffffffff80ffff80u);
}

struct AluCase {
  const char* name;
  Bytes bytes;      // operates on [rax] (MMIO) with ebx/bl or an immediate
  uint32_t memory;  // the MMIO value read
  uint64_t rbx;
  uint64_t flags_in;
  std::optional<uint32_t> written;  // the value written back, if any
  uint64_t flags_out;               // arithmetic flags after
};

void PrintTo(const AluCase& c, std::ostream* out) { *out << c.name; }

class AluTest : public LongModeTest, public ::testing::WithParamInterface<AluCase> {};

TEST_P(AluTest, ResultAndFlags) {
  const AluCase& c = GetParam();
  state.regs.rax = kMmioLinear;
  state.regs.rbx = c.rbx;
  state.regs.rflags = 0x2 | c.flags_in;
  uint8_t raw[4];
  std::memcpy(raw, &c.memory, 4);
  platform.set_mmio_value(kMmioGpa, raw);
  const auto log = run_done(c.bytes);
  ASSERT_FALSE(log.empty());
  EXPECT_FALSE(log[0].write);
  if (c.written) {
    ASSERT_EQ(log.size(), 2u);
    uint32_t written = 0;
    std::memcpy(&written, log[1].data.data(), log[1].data.size());
    EXPECT_EQ(written, *c.written);
  } else {
    EXPECT_EQ(log.size(), 1u);
  }
  EXPECT_EQ(state.regs.rflags & kRflagsArith, c.flags_out) << std::hex << state.regs.rflags;
}

constexpr uint64_t CF = kRflagsCf, PF = kRflagsPf, AF = kRflagsAf, ZF = kRflagsZf, SF = kRflagsSf,
                   OF = kRflagsOf;

INSTANTIATE_TEST_SUITE_P(
    Flags, AluTest,
    ::testing::Values(
        AluCase{
            "add_overflow_to_sign", {0x01, 0x18}, 0x7fffffff, 1, 0, 0x80000000, SF | OF | AF | PF},
        AluCase{"add_carry_zero", {0x01, 0x18}, 0xffffffff, 1, 0, 0, CF | ZF | AF | PF},
        AluCase{"adc_uses_carry", {0x11, 0x18}, 1, 1, CF, 3, PF},
        AluCase{"sub_borrow", {0x29, 0x18}, 0, 1, 0, 0xffffffff, CF | SF | AF | PF},
        AluCase{"sbb_borrow_in", {0x19, 0x18}, 5, 5, CF, 0xffffffff, CF | SF | AF | PF},
        AluCase{"cmp_equal", {0x39, 0x18}, 42, 42, CF | OF, std::nullopt, ZF | PF},
        AluCase{"cmp_signed_overflow", {0x39, 0x18}, 0x80000000, 1, 0, std::nullopt, OF | AF | PF},
        AluCase{"and_clears_cf_of", {0x21, 0x18}, 0xf0f0f0f0, 0x0f0f0f0f, CF | OF, 0, ZF | PF},
        AluCase{"or_sign", {0x09, 0x18}, 0x80000000, 1, 0, 0x80000001, SF},
        AluCase{"xor_byte", {0x30, 0x18}, 0x000000ff, 0x0f, 0, 0xf0, SF | PF},
        AluCase{"test_no_write", {0x85, 0x18}, 0x00000100, 0x100, 0, std::nullopt, 0 | PF},
        AluCase{"add_imm8_sign_extended", {0x83, 0x00, 0xff}, 1, 0, 0, 0, CF | ZF | AF | PF},
        AluCase{"cmp_byte_imm", {0x80, 0x38, 0x01}, 0x00, 0, 0, std::nullopt, CF | SF | AF | PF},
        AluCase{"inc_keeps_cf", {0xff, 0x00}, 0xffffffff, 0, CF, 0, CF | ZF | AF | PF},
        AluCase{"dec_to_negative", {0xff, 0x08}, 0, 0, 0, 0xffffffff, SF | AF | PF},
        AluCase{"neg_nonzero_sets_cf", {0xf7, 0x18}, 1, 0, 0, 0xffffffff, CF | SF | AF | PF},
        AluCase{"neg_zero_clears_cf", {0xf7, 0x18}, 0, 0, CF, 0, ZF | PF},
        AluCase{"not_keeps_flags", {0xf7, 0x10}, 0x0000ffff, 0, CF | ZF, 0xffff0000, CF | ZF},
        AluCase{"lock_add", {0xf0, 0x01, 0x18}, 2, 3, 0, 5, PF}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST_F(LongModeTest, XchgWritesMemoryAndRegister) {
  state.regs.rax = kMmioLinear;
  state.regs.rbx = 0xabcd;
  const auto log = run_done({0x66, 0x87, 0x18});  // xchg [rax], bx
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0], read_of(kMmioGpa, 2));
  EXPECT_EQ(log[1], write_of(kMmioGpa, {0xcd, 0xab}));
  EXPECT_EQ(state.regs.rbx, uint64_t{mmio_byte(kMmioGpa)} | uint64_t{mmio_byte(kMmioGpa + 1)} << 8);
}

TEST_F(LongModeTest, CmpxchgSuccessAndFailure) {
  const uint8_t value[] = {0x10, 0, 0, 0};
  platform.set_mmio_value(kMmioGpa, value);
  state.regs.rdi = kMmioLinear;
  state.regs.rax = 0x10;
  state.regs.rcx = 0x99;
  auto log = run_done({0xf0, 0x0f, 0xb1, 0x0f});  // lock cmpxchg [rdi], ecx
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1], write_of(kMmioGpa, {0x99, 0, 0, 0}));
  EXPECT_NE(state.regs.rflags & kRflagsZf, 0u);

  state.regs.rip = kCodeLinear;
  state.regs.rax = 0x11;
  log = run_done({0x0f, 0xb1, 0x0f});
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1], write_of(kMmioGpa, {0x10, 0, 0, 0}));  // the old value, written back
  EXPECT_EQ(state.regs.rax, 0x10u);
  EXPECT_EQ(state.regs.rflags & kRflagsZf, 0u);
}

TEST_F(LongModeTest, BitTestWithNegativeRegisterOffsetAddressesBelow) {
  const uint8_t value[] = {0, 0, 0, 0x80};
  platform.set_mmio_value(kMmioGpa + 0x40 - 4, value);
  state.regs.rax = kMmioLinear + 0x40;
  state.regs.rbx = static_cast<uint64_t>(-1);  // bit 31 of the dword below
  auto log = run_done({0x0f, 0xab, 0x18});     // bts [rax], ebx
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].gpa, kMmioGpa + 0x3c);
  EXPECT_EQ(log[1], write_of(kMmioGpa + 0x3c, {0, 0, 0, 0x80}));
  EXPECT_NE(state.regs.rflags & kRflagsCf, 0u);

  state.regs.rip = kCodeLinear;
  log = run_done({0x0f, 0xba, 0x30, 0x23});  // btr dword [rax], 35 -> bit 3 of [rax]
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].gpa, kMmioGpa + 0x40);
}

TEST_F(LongModeTest, SetccToMemory) {
  state.regs.rax = kMmioLinear;
  state.regs.rflags = 0x2 | kRflagsSf;
  EXPECT_EQ(run_done({0x0f, 0x9c, 0x00}), std::vector{write_of(kMmioGpa, {1})});  // setl [rax]
  state.regs.rip = kCodeLinear;
  EXPECT_EQ(run_done({0x0f, 0x94, 0x00}), std::vector{write_of(kMmioGpa, {0})});  // sete [rax]
}

TEST_F(LongModeTest, MovntiStores) {
  state.regs.rax = kMmioLinear;
  state.regs.rcx = 0x0102030405060708;
  EXPECT_EQ(run_done({0x48, 0x0f, 0xc3, 0x08}),
            std::vector{write_of(kMmioGpa, {8, 7, 6, 5, 4, 3, 2, 1})});
}

TEST_F(LongModeTest, CrossPageAccessSplitsBetweenRamAndMmio) {
  // A dword at the last two bytes of the RAM page and the first two of the MMIO page.
  tables->map(kMmioLinear - 0x1000, kRamGpa);
  state.regs.rax = kMmioLinear - 2;
  state.regs.rbx = 0xddccbbaa;
  EXPECT_EQ(run_done({0x89, 0x18}), std::vector{write_of(kMmioGpa, {0xcc, 0xdd})});
  EXPECT_EQ(platform.ram()[kRamGpa + 0xffe], 0xaa);
  EXPECT_EQ(platform.ram()[kRamGpa + 0xfff], 0xbb);
  EXPECT_EQ(platform.page_crossings(), 0u);
}

TEST_F(LongModeTest, CrossPageMmioToMmioIsTwoAccesses) {
  state.regs.rax = kMmioLinear + 0xffc;
  const auto log = run_done({0x48, 0x8b, 0x08});  // mov rcx, [rax]
  EXPECT_EQ(log, (std::vector{read_of(kMmioGpa + 0xffc, 4), read_of(kMmio2Gpa, 4)}));
}

TEST_F(LongModeTest, UnmappedPageIsPageFaultWithErrorCode) {
  state.regs.rax = kUnmappedLinear + 8;
  Fault fault = run_fault({0x89, 0x18});
  EXPECT_EQ(fault.vector, Vector::kPf);
  EXPECT_EQ(fault.error_code, kPfWrite);
  EXPECT_EQ(fault.cr2, kUnmappedLinear + 8);
  fault = run_fault({0x8b, 0x18});
  EXPECT_EQ(fault.error_code, 0u);
}

TEST_F(LongModeTest, FaultOnSecondPageWritesNothing) {
  tables->map(kUnmappedLinear - 0x1000, kRamGpa);  // replace the second MMIO page with RAM...
  state.regs.rax = kUnmappedLinear - 2;            // ...and write across into the unmapped page
  platform.ram()[kRamGpa + 0xffe] = 0x55;
  const Fault fault = run_fault({0x89, 0x18});
  EXPECT_EQ(fault.vector, Vector::kPf);
  EXPECT_EQ(fault.cr2, kUnmappedLinear);
  EXPECT_EQ(platform.ram()[kRamGpa + 0xffe], 0x55);
  EXPECT_TRUE(platform.mmio().empty());
}

TEST_F(LongModeTest, UserAndReadOnlyPageProtection) {
  tables->map(kMmioLinear, kMmioGpa, kPtePresent);  // read-only, supervisor
  state.regs.rax = kMmioLinear;
  Fault fault = run_fault({0x89, 0x18});
  EXPECT_EQ(fault.error_code, kPfPresent | kPfWrite);  // CR0.WP applies to supervisor writes
  state.sregs.cr0 &= ~kCr0Wp;
  run_done({0x89, 0x18});
  state.regs.rip = kCodeLinear;
  state.sregs.ss.dpl = 3;  // CPL 3: a supervisor page
  fault = run_fault({0x8b, 0x18});
  EXPECT_EQ(fault.error_code, kPfPresent | kPfUser);
}

TEST_F(LongModeTest, ReservedBitIsPageFaultWithRsvd) {
  state.regs.rax = kMmioLinear;
  const uint64_t pml4e = tables->entry_address(kMmioLinear, 4);
  platform.poke64(pml4e, platform.peek64(pml4e) | kPteLarge);  // PS is reserved in a PML4E
  const Fault fault = run_fault({0x8b, 0x18});
  EXPECT_EQ(fault.error_code, kPfPresent | kPfReserved);
}

TEST_F(LongModeTest, NonCanonicalIsGpOrSsOnTheStack) {
  state.regs.rax = 0x0000800000000000;
  Fault fault = run_fault({0x8b, 0x18});
  EXPECT_EQ(fault.vector, Vector::kGp);
  EXPECT_EQ(fault.error_code, 0u);
  state.regs.rbp = 0x0000800000000000;
  fault = run_fault({0x8b, 0x5d, 0x00});  // mov ebx, [rbp+0]
  EXPECT_EQ(fault.vector, Vector::kSs);
  // Segment prefixes add no base in 64-bit mode, but they still pick #SS or #GP.
  EXPECT_EQ(run_fault({0x3e, 0x8b, 0x5d, 0x00}).vector, Vector::kGp);  // mov ebx, ds:[rbp+0]
  EXPECT_EQ(run_fault({0x36, 0x8b, 0x18}).vector, Vector::kSs);        // mov ebx, ss:[rax]
}

TEST_F(LongModeTest, RunningIntoNonCanonicalSpaceFaultsOnTheFirstPageFirst) {
  // The first page (the top of the lower half) is not mapped: #PF, as the CPU walks it first.
  state.regs.rax = 0x00007ffffffffffe;
  Fault fault = run_fault({0x89, 0x18});
  EXPECT_EQ(fault.vector, Vector::kPf);
  EXPECT_EQ(fault.cr2, 0x00007ffffffffffeu);
  // Mapped, the access gets as far as the non-canonical second part: #GP(0).
  tables->map(0x00007ffffffff000, kRamGpa);
  fault = run_fault({0x89, 0x18});
  EXPECT_EQ(fault.vector, Vector::kGp);
  EXPECT_EQ(fault.error_code, 0u);
}

TEST_F(LongModeTest, RepMovsbFromMmioToRamBackwards) {
  state.regs.rsi = kMmioLinear + 0x103;
  state.regs.rdi = kRamLinear + 0x203;
  state.regs.rcx = 4;
  state.regs.rflags = 0x2 | kRflagsDf;
  const auto log = run_done({0xf3, 0xa4});
  ASSERT_EQ(log.size(), 4u);
  for (unsigned i = 0; i < 4; ++i) {
    EXPECT_EQ(log[i], read_of(kMmioGpa + 0x103 - i, 1));
    EXPECT_EQ(platform.ram()[kRamGpa + 0x203 - i], mmio_byte(kMmioGpa + 0x103 - i));
  }
  EXPECT_EQ(state.regs.rcx, 0u);
  EXPECT_EQ(state.regs.rsi, kMmioLinear + 0xff);
  EXPECT_EQ(state.regs.rdi, kRamLinear + 0x1ff);
}

TEST_F(LongModeTest, RepStosdStopsAtTheIterationLimitWithRipUnchanged) {
  state.regs.rdi = kMmioLinear;
  state.regs.rcx = 5;
  state.regs.rax = 0x11223344;
  auto outcome = run({0xf3, 0xab}, EmulatorOptions{.max_rep_iterations = 3});
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->kind, Outcome::Kind::kDone);
  EXPECT_EQ(state.regs.rip, kCodeLinear);
  EXPECT_EQ(state.regs.rcx, 2u);
  EXPECT_EQ(platform.mmio().size(), 3u);
  outcome = run({0xf3, 0xab}, EmulatorOptions{.max_rep_iterations = 3});
  EXPECT_EQ(state.regs.rip, kCodeLinear + 2);
  EXPECT_EQ(state.regs.rcx, 0u);
  EXPECT_EQ(state.regs.rdi, kMmioLinear + 20);
  EXPECT_EQ(platform.mmio().size(), 5u);
}

TEST_F(LongModeTest, TrapFlagAsksForTheSingleStepTrapAfterTheInstruction) {
  state.regs.rax = kMmioLinear + 0x10;
  auto outcome = run({0x89, 0x18});  // mov [rax], ebx, TF clear
  ASSERT_TRUE(outcome);
  EXPECT_FALSE(outcome->single_step);
  state.regs.rip = kCodeLinear;
  state.regs.rflags |= kRflagsTf;
  outcome = run({0x89, 0x18});
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->kind, Outcome::Kind::kDone);
  EXPECT_TRUE(outcome->single_step);
  EXPECT_EQ(state.regs.rip, kCodeLinear + 2);
  EXPECT_NE(state.regs.rflags & kRflagsTf, 0u);
}

TEST_F(LongModeTest, TrapFlagRunsOneRepIterationPerCall) {
  // The CPU traps after each iteration of a REP string instruction.
  state.regs.rflags |= kRflagsTf;
  state.regs.rdi = kMmioLinear;
  state.regs.rcx = 2;
  auto outcome = run({0xf3, 0xaa});  // rep stosb
  ASSERT_TRUE(outcome);
  EXPECT_TRUE(outcome->single_step);
  EXPECT_EQ(state.regs.rcx, 1u);
  EXPECT_EQ(state.regs.rip, kCodeLinear) << "not done: the REP runs again after the trap";
  outcome = run({0xf3, 0xaa});
  ASSERT_TRUE(outcome);
  EXPECT_TRUE(outcome->single_step);
  EXPECT_EQ(state.regs.rcx, 0u);
  EXPECT_EQ(state.regs.rip, kCodeLinear + 2);
  EXPECT_EQ(platform.mmio().size(), 2u);
}

TEST_F(LongModeTest, AFaultRaisesNoSingleStepTrap) {
  state.regs.rflags |= kRflagsTf;
  state.regs.rax = kUnmappedLinear;
  auto outcome = run({0x89, 0x18});
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->kind, Outcome::Kind::kFault);
  EXPECT_FALSE(outcome->single_step);
}

TEST_F(LongModeTest, RepWithZeroCountDoesNothing) {
  state.regs.rcx = 0;
  EXPECT_TRUE(run_done({0xf3, 0x48, 0xab}).empty());
}

TEST_F(LongModeTest, RepFaultKeepsCompletedIterations) {
  state.regs.rdi = kMmioLinear + 0x1ffc;  // the third dword is on the unmapped page
  state.regs.rcx = 4;
  auto outcome = run({0xf3, 0xab});
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->kind, Outcome::Kind::kFault);
  EXPECT_EQ(outcome->fault.cr2, kUnmappedLinear);
  EXPECT_EQ(state.regs.rcx, 3u);
  EXPECT_EQ(state.regs.rdi, kMmioLinear + 0x2000);
  EXPECT_EQ(state.regs.rip, kCodeLinear);
}

TEST_F(LongModeTest, LodsWithSegmentOverride) {
  state.sregs.fs.base = 0x1000;
  state.regs.rsi = kMmioLinear - 0x1000;
  run_done({0x64, 0xad});  // lods eax, fs:[rsi]
  EXPECT_EQ(platform.mmio(), std::vector{read_of(kMmioGpa, 4)});
  EXPECT_EQ(state.regs.rsi, kMmioLinear - 0x1000 + 4);
}

TEST_F(LongModeTest, UnsupportedInstructionIsAnErrorNamingTheBytes) {
  state.regs.rax = kMmioLinear;
  auto outcome = run({0xd9, 0x00});  // fld dword [rax]
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code(), Errc::kUnsupported);
  EXPECT_NE(outcome.error().message().find("d9 00"), std::string::npos)
      << outcome.error().message();
  EXPECT_TRUE(platform.mmio().empty());
}

TEST_F(LongModeTest, InvalidEncodingsAreUd) {
  EXPECT_EQ(run_fault({0xf0, 0x89, 0x18}).vector, Vector::kUd);  // lock mov
  EXPECT_EQ(run_fault({0xf0, 0x01, 0xc3}).vector, Vector::kUd);  // lock add ebx, eax
}

TEST_F(LongModeTest, FetchesMissingBytesFromGuestMemory) {
  const uint8_t code[] = {0x48, 0x89, 0x18};  // mov [rax], rbx
  platform.poke(kCodeLinear, code);
  state.regs.rax = kMmioLinear;
  auto outcome = run({0x48});
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->length, 3u);
  EXPECT_EQ(state.regs.rip, kCodeLinear + 3);
  EXPECT_EQ(platform.mmio().size(), 1u);
}

TEST_F(LongModeTest, FetchIntoAnUnmappedPageIsAFetchPageFault) {
  state.regs.rip = 0x5fffff;  // the last byte of a mapped page; the next page is not mapped
  tables->map(0x5ff000, 0x5000);
  platform.ram()[0x5fff] = 0x48;
  const Fault fault = run_fault({});
  EXPECT_EQ(fault.vector, Vector::kPf);
  EXPECT_EQ(fault.cr2, 0x600000u);
  EXPECT_EQ(fault.error_code, kPfFetch);
}

TEST_F(LongModeTest, CompatibilityModeChecksInstructionBytesAgainstTheCsLimit) {
  state.sregs.cs.l = false;  // 32-bit code under long mode
  state.sregs.cs.limit = 0x1002;
  state.sregs.cs.g = false;
  state.regs.rax = kMmioLinear;
  state.regs.rip = 0x1001;
  const Fault fault = run_fault({0x89, 0x58, 0x04});  // mov [eax+4], ebx: ends at 0x1003
  EXPECT_EQ(fault.vector, Vector::kGp);
  EXPECT_EQ(fault.error_code, 0u);
  EXPECT_TRUE(platform.mmio().empty());
}

TEST_F(LongModeTest, SixtyFourBitModeHasNoCsLimit) {
  state.sregs.cs.limit = 0;
  state.regs.rax = kMmioLinear;
  EXPECT_EQ(run_done({0x48, 0x89, 0x18}).size(), 1u);
}

TEST_F(LongModeTest, TooLongInstructionIsGp) {
  Bytes bytes(14, 0x66);
  bytes.push_back(0x89);
  bytes.push_back(0x18);
  EXPECT_EQ(run_fault(bytes).vector, Vector::kGp);
}

TEST_F(LongModeTest, DecodeCacheHitsOnlyForTheSameBytesAndMode) {
  Emulator emulator(platform);
  state.regs.rax = kMmioLinear;
  state.regs.rbx = 0x1122334455667788;
  auto outcome = emulator.emulate(state, Bytes{0x48, 0x89, 0x18});  // mov [rax], rbx
  ASSERT_TRUE(outcome);
  EXPECT_EQ(platform.mmio().back().data.size(), 8u);
  state.regs.rip = kCodeLinear;
  outcome = emulator.emulate(state, Bytes{0x88, 0x18});  // same RIP, other bytes: mov [rax], bl
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->length, 2u);
  EXPECT_EQ(platform.mmio().back().data.size(), 1u);
  state.regs.rip = kCodeLinear;
  outcome = emulator.emulate(state, Bytes{0x48, 0x89, 0x18, 0x90});  // a hit: longer buffer
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->length, 3u);
  EXPECT_EQ(platform.mmio().back().data.size(), 8u);
  // The same bytes in compatibility mode: 48 is a one-byte DEC EAX there.
  state.regs.rip = kCodeLinear;
  state.sregs.cs.l = false;
  state.sregs.cs.db = true;
  const size_t accesses = platform.mmio().size();
  outcome = emulator.emulate(state, Bytes{0x48, 0x89, 0x18});
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->length, 1u);
  EXPECT_EQ(state.regs.rax, (kMmioLinear - 1) & 0xffffffff);
  EXPECT_EQ(platform.mmio().size(), accesses);
}

class TranslatorStub : public Translator {
 public:
  Expected<Translation> translate(const CpuState&, uint64_t linear, AccessIntent) override {
    ++calls;
    return Translation{.ok = true, .gpa = 0xf0000000 + (linear & 0xfff), .error_code = 0};
  }
  int calls = 0;
};

class MisalignedTranslator : public Translator {
 public:
  Expected<Translation> translate(const CpuState&, uint64_t, AccessIntent) override {
    return Translation{.ok = true, .gpa = 0xf0000ffe, .error_code = 0};
  }
};

TEST_F(LongModeTest, TranslationThatMovesThePageOffsetIsAnError) {
  MisalignedTranslator translator;
  Emulator emulator(platform, translator);
  state.regs.rax = 0x7777000;
  auto outcome = emulator.emulate(state, Bytes{0x89, 0x18});  // a 4-byte access would cross
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code(), Errc::kInternal);
  EXPECT_TRUE(platform.mmio().empty());
}

TEST_F(LongModeTest, BackendTranslatorReplacesThePageWalk) {
  TranslatorStub translator;
  Emulator emulator(platform, translator);
  state.regs.rax = 0x7777123;
  auto outcome = emulator.emulate(state, Bytes{0x88, 0x18});
  ASSERT_TRUE(outcome);
  EXPECT_EQ(translator.calls, 1);
  EXPECT_EQ(platform.mmio(),
            std::vector{write_of(0xf0000123, {static_cast<uint8_t>(state.regs.rbx)})});
}

}  // namespace
}  // namespace ferry::x86::test

// The differential harness must report a broken lib/x86 as a difference: each test runs one
// hand-made variant through compare_with_kvm twice, as it is (both sides agree) and with one
// fault injected into lib/x86's side (a dropped RAM store, a wrong flag, a wrong MMIO width, a
// wrong fault vector), and asserts the second is reported, naming what differs.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "differential_harness.h"
#include "ferry/x86/cpu_state.h"
#include "kvm_oracle.h"
#include "support/kvm_required.h"
#include "variant_generator.h"

namespace ferry::x86::test {
namespace {

constexpr uint8_t kMovEaxEbx[] = {0x89, 0x18};  // mov [eax], ebx (32-bit) / [rax] (64-bit)
constexpr uint8_t kAddEaxEbx[] = {0x01, 0x18};  // add [eax], ebx
constexpr uint8_t kMovEbxEax[] = {0x8b, 0x18};  // mov ebx, [eax]
constexpr uint64_t kRamPageBeforeHole = 0x9f000;
constexpr uint64_t kHole = 0xa0000;  // the oracle's legacy hole: MMIO
constexpr uint64_t kFirstNoncanonical = 0x0000800000000000;

// Passes everything on to the snapshot, except what a mutant changes.
class ForwardingPlatform : public Platform {
 public:
  explicit ForwardingPlatform(Platform& inner) : inner_(inner) {}
  bool read_ram(uint64_t gpa, std::span<uint8_t> data) noexcept override {
    return inner_.read_ram(gpa, data);
  }
  bool write_ram(uint64_t gpa, std::span<const uint8_t> data) noexcept override {
    return inner_.write_ram(gpa, data);
  }
  void mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept override {
    inner_.mmio_read(gpa, data);
  }
  void mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept override {
    inner_.mmio_write(gpa, data);
  }

 protected:
  Platform& inner_;
};

// Says a RAM store succeeded and keeps nothing of it.
class DropsRamStores : public ForwardingPlatform {
 public:
  using ForwardingPlatform::ForwardingPlatform;
  bool write_ram(uint64_t gpa, std::span<const uint8_t> data) noexcept override {
    uint8_t probe = 0;
    return inner_.read_ram(gpa, std::span(&probe, 1)) && !data.empty();
  }
};

// Performs every MMIO access at half its width.
class HalvesMmioWidth : public ForwardingPlatform {
 public:
  using ForwardingPlatform::ForwardingPlatform;
  void mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept override {
    inner_.mmio_read(gpa, data.first(std::max<size_t>(1, data.size() / 2)));
  }
  void mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept override {
    inner_.mmio_write(gpa, data.first(std::max<size_t>(1, data.size() / 2)));
  }
};

// Hands out the instruction's bytes with its opcode's direction bit flipped (mov [m], r becomes
// mov r, [m]): what a broken fetch from guest memory would decode.
class CorruptsFetchedOpcode : public ForwardingPlatform {
 public:
  CorruptsFetchedOpcode(Platform& inner, uint64_t opcode_gpa)
      : ForwardingPlatform(inner), opcode_gpa_(opcode_gpa) {}
  bool read_ram(uint64_t gpa, std::span<uint8_t> data) noexcept override {
    if (!inner_.read_ram(gpa, data)) return false;
    if (opcode_gpa_ >= gpa && opcode_gpa_ < gpa + data.size()) data[opcode_gpa_ - gpa] ^= 0x02;
    return true;
  }

 private:
  uint64_t opcode_gpa_;
};

class DifferentialMutantTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!::ferry::test::kvm_unusable_reason().empty()) return;
    auto created = KvmOracle::create();
    if (created)
      oracle_ = std::move(*created);
    else
      oracle_error_ = created.error().message();
  }
  static void TearDownTestSuite() { oracle_.reset(); }

  void SetUp() override {
    FERRY_REQUIRE_KVM();
    ASSERT_NE(oracle_, nullptr) << "cannot create the KVM oracle: " << oracle_error_;
  }

  // The generator's state for `mode` (and fresh random RAM in the window), with `bytes` as the
  // instruction, RAX as its address, flat DS and every flag compared.
  static Variant hand_made(TestMode mode, std::span<const uint8_t> bytes, uint64_t rax) {
    VariantGenerator generator(0x6d757461, oracle_->ram(), oracle_->initial_sregs());
    Variant v = generator.generate(mode, instruction_templates()[0]);
    v.bytes.assign(bytes.begin(), bytes.end());
    v.regs.rax = rax;
    v.sregs.ds.base = 0;
    v.regs.rflags &= ~kRflagsTf;       // the tests that want the single-step trap set it
    v.flags_compared = ~(1ull << 16);  // all but RF, as the generator does
    return v;
  }

  // The variant agrees as it is, and the mutant is reported as differing in `what`. Each run
  // makes the variant afresh: that refills the window's RAM, which the first run wrote.
  static void expect_caught(const std::function<Variant()>& make, Comparison::Verdict agreed,
                            const Mutation& mutant, const std::string& what) {
    const Comparison as_is = compare_with_kvm(*oracle_, make());
    ASSERT_EQ(as_is.verdict, agreed)
        << "the unmutated variant must agree for the mutant to mean anything: "
        << as_is.differences;
    const Comparison mutated = compare_with_kvm(*oracle_, make(), mutant);
    EXPECT_EQ(mutated.verdict, Comparison::Verdict::kDiffered)
        << "the mutant was reported as " << verdict_name(mutated.verdict);
    EXPECT_NE(mutated.differences.find(what), std::string::npos)
        << "expected a difference in " << what << ", got: " << mutated.differences;
  }

  static std::unique_ptr<KvmOracle> oracle_;
  static std::string oracle_error_;
};

std::unique_ptr<KvmOracle> DifferentialMutantTest::oracle_;
std::string DifferentialMutantTest::oracle_error_;

TEST_F(DifferentialMutantTest, DroppedRamStoreOfCrossPageMoveIsReported) {
  // Two bytes to the last RAM page before the hole, two to MMIO.
  const auto v = [] { return hand_made(TestMode::kProt32, kMovEaxEbx, kHole - 2); };
  const Mutation drop{.platform = [](Platform& p) { return std::make_unique<DropsRamStores>(p); }};
  expect_caught(v, Comparison::Verdict::kAgreedOnCompletion, drop, "RAM 0x9fffe");
}

TEST_F(DifferentialMutantTest, DroppedRamStoreWithinOnePageIsReported) {
  const auto v = [] {
    return hand_made(TestMode::kProt32, kMovEaxEbx, kRamPageBeforeHole + 0x100);
  };
  const Mutation drop{.platform = [](Platform& p) { return std::make_unique<DropsRamStores>(p); }};
  expect_caught(v, Comparison::Verdict::kAgreedOnCompletion, drop, "RAM 0x9f100");
}

TEST_F(DifferentialMutantTest, WrongCarryFlagIsReported) {
  const auto v = [] { return hand_made(TestMode::kProt32, kAddEaxEbx, kHole + 0x100); };
  const Mutation flip_cf{.result = [](Outcome&, CpuState& s) { s.regs.rflags ^= kRflagsCf; }};
  expect_caught(v, Comparison::Verdict::kAgreedOnCompletion, flip_cf, "rflags");
}

TEST_F(DifferentialMutantTest, WrongMmioWidthIsReported) {
  const auto v = [] { return hand_made(TestMode::kProt32, kMovEaxEbx, kHole + 0x100); };
  const Mutation halve{
      .platform = [](Platform& p) { return std::make_unique<HalvesMmioWidth>(p); }};
  expect_caught(v, Comparison::Verdict::kAgreedOnCompletion, halve, "MMIO");
}

TEST_F(DifferentialMutantTest, WrongFetchOfUndeliveredBytesIsReported) {
  // lib/x86 is handed no bytes, as from KVM, and fetches the instruction from guest memory.
  const auto v = [] {
    Variant made = hand_made(TestMode::kProt32, kMovEaxEbx, kHole + 0x100);
    made.bytes_given = 0;
    return made;
  };
  const uint64_t opcode = v().code_gpa;
  const Mutation corrupt{.platform = [opcode](Platform& p) {
    return std::make_unique<CorruptsFetchedOpcode>(p, opcode);
  }};
  expect_caught(v, Comparison::Verdict::kAgreedOnCompletion, corrupt, "MMIO");
}

TEST_F(DifferentialMutantTest, MissingSingleStepTrapIsReported) {
  // RFLAGS.TF: KVM traps (#DB) after the load, and lib/x86 must say the trap is due.
  const auto v = [] {
    Variant made = hand_made(TestMode::kProt32, kMovEbxEax, kHole + 0x100);
    made.regs.rflags |= kRflagsTf;
    return made;
  };
  const Mutation no_trap{.result = [](Outcome& o, CpuState&) { o.single_step = false; }};
  expect_caught(v, Comparison::Verdict::kAgreedOnCompletion, no_trap, "vector 1");
}

TEST_F(DifferentialMutantTest, WrongRegisterAfterSingleStepIsReported) {
  // Real mode: the trapped registers come from the frame the trap pushed, and are compared.
  const auto v = [] {
    Variant made = hand_made(TestMode::kReal, {}, 0);
    made.bytes = {0x8b, 0x1e, 0x00, 0x01};  // mov bx, [0x100]
    made.sregs.ds.base = kHole;
    made.sregs.ds.selector = static_cast<uint16_t>(kHole >> 4);
    made.regs.rflags |= kRflagsTf;
    return made;
  };
  const Mutation wrong_bx{.result = [](Outcome&, CpuState& s) { s.regs.rbx ^= 1; }};
  expect_caught(v, Comparison::Verdict::kAgreedOnCompletion, wrong_bx, "rbx");
}

TEST_F(DifferentialMutantTest, WrongFaultVectorIsReported) {
  // 64-bit mode: a store to the first non-canonical address is #GP(0), which the oracle's
  // long-mode handlers report with its vector and error code.
  const auto v = [] { return hand_made(TestMode::kLong, kMovEaxEbx, kFirstNoncanonical); };
  const Mutation stack_fault{.result = [](Outcome& o, CpuState&) { o.fault.vector = Vector::kSs; }};
  expect_caught(v, Comparison::Verdict::kAgreedOnFault, stack_fault, "vector");
}

}  // namespace
}  // namespace ferry::x86::test

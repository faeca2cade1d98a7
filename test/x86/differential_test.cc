// Differential test: thousands of generated instruction variants, each run by real KVM (whose
// in-kernel emulator handles the MMIO part, the CPU the rest) and by lib/x86 on the same bytes,
// registers and memory; the MMIO accesses, registers, flags, RAM and XMM must agree.
//
// FERRY_X86_SEED=<n> replays another seed; FERRY_X86_VARIANTS=<n> sets variants per form and mode;
// FERRY_X86_ONLY=<text> runs only the forms whose name contains it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "fake_platform.h"
#include "ferry/x86/emulator.h"
#include "kvm_oracle.h"
#include "support/kvm_required.h"
#include "variant_generator.h"

namespace ferry::x86::test {
namespace {

constexpr uint64_t kDefaultSeed = 0x5eed0001;
constexpr unsigned kDefaultVariants = 40;
constexpr unsigned kMaxReportedFailures = 10;

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr ? std::strtoull(text, nullptr, 0) : fallback;
}

std::string hex(std::span<const uint8_t> bytes) {
  std::string out;
  for (uint8_t b : bytes) out += fmt::format("{:02x} ", b);
  return out;
}

struct Stats {
  unsigned variants = 0;
  unsigned completed = 0;       // both completed and agreed
  unsigned faulted = 0;         // both faulted
  unsigned faults_checked = 0;  // ...with the same vector, error code and CR2 (handler reported)
  unsigned with_mmio = 0;       // ...of the agreeing variants, those that reached MMIO
  unsigned oracle_refused = 0;  // KVM's emulator could not emulate the form
  unsigned failures = 0;
};

// Compares one variant; returns what differs (empty when everything agrees).
std::string compare(KvmOracle& oracle, const Variant& v, Stats& stats) {
  OverlayPlatform platform(oracle.ram());
  Emulator emulator(platform, {.vendor = oracle.vendor()});  // as the oracle's vCPU
  CpuState state{v.regs, v.sregs, v.fpu};
  auto outcome = emulator.emulate(state, v.bytes);
  if (!outcome) return "lib/x86 error: " + outcome.error().message();
  if (outcome->kind == Outcome::Kind::kNeedsFpu) return "lib/x86 asked for the FPU it was given";

  auto oracle_result = oracle.run(v.bytes, v.code_gpa, v.regs, v.sregs, v.fpu);
  if (!oracle_result) {
    if (oracle_result.error().message().find("could not emulate") != std::string::npos) {
      ++stats.oracle_refused;
      return {};
    }
    return "oracle error: " + oracle_result.error().message();
  }
  const OracleResult& kvm = *oracle_result;
  const bool we_faulted = outcome->kind == Outcome::Kind::kFault;
  if (kvm.end == OracleResult::End::kTimeout) return "KVM did not finish the instruction";
  if (we_faulted || kvm.end == OracleResult::End::kFault) {
    if (we_faulted && kvm.end == OracleResult::End::kFault) {
      // Where KVM's handler reported the exception, it must be the same one.
      const Fault& fault = outcome->fault;
      std::string diff;
      if (kvm.vector && *kvm.vector != static_cast<uint8_t>(fault.vector)) {
        diff += fmt::format("vector: lib/x86 {}, KVM {}; ", describe(fault), *kvm.vector);
      }
      if (kvm.vector && kvm.error_code != fault.error_code) {
        diff += fmt::format("error code: lib/x86 {}, KVM {}; ", describe(fault),
                            kvm.error_code ? fmt::format("{:#x}", *kvm.error_code) : "none");
      }
      if (kvm.vector && fault.vector == Vector::kPf && kvm.cr2 != fault.cr2) {
        diff += fmt::format("cr2: lib/x86 {:#x}, KVM {:#x}; ", fault.cr2, kvm.cr2);
      }
      if (diff.empty()) {
        ++stats.faulted;
        if (kvm.vector) ++stats.faults_checked;
      }
      return diff;
    }
    return we_faulted ? "lib/x86 faulted (" + describe(outcome->fault) + "), KVM completed"
                      : fmt::format("KVM faulted (rip {:#x}, cr2 {:#x}), lib/x86 completed",
                                    kvm.regs.rip, kvm.cr2);
  }

  std::string diff;
  const accel::Regs& ours = state.regs;
  const accel::Regs& theirs = kvm.regs;
  const uint64_t accel::Regs::*fields[] = {
      &accel::Regs::rax, &accel::Regs::rcx, &accel::Regs::rdx, &accel::Regs::rbx, &accel::Regs::rsp,
      &accel::Regs::rbp, &accel::Regs::rsi, &accel::Regs::rdi, &accel::Regs::r8,  &accel::Regs::r9,
      &accel::Regs::r10, &accel::Regs::r11, &accel::Regs::r12, &accel::Regs::r13, &accel::Regs::r14,
      &accel::Regs::r15, &accel::Regs::rip};
  const char* names[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8",
                         "r9",  "r10", "r11", "r12", "r13", "r14", "r15", "rip"};
  for (size_t i = 0; i < std::size(fields); ++i) {
    if (ours.*fields[i] != theirs.*fields[i]) {
      diff += fmt::format("{}: lib/x86 {:#x}, KVM {:#x} (was {:#x}); ", names[i], ours.*fields[i],
                          theirs.*fields[i], v.regs.*fields[i]);
    }
  }
  if ((ours.rflags & v.flags_compared) != (theirs.rflags & v.flags_compared)) {
    diff += fmt::format("rflags: lib/x86 {:#x}, KVM {:#x} (was {:#x}, compared {:#x}); ",
                        ours.rflags, theirs.rflags, v.regs.rflags, v.flags_compared & 0xfff);
  }
  const std::vector<MmioAccess> our_mmio = in_kvm_pieces(platform.mmio());
  if (our_mmio != kvm.mmio) {
    diff += "MMIO: lib/x86 " + describe(our_mmio) + " KVM " + describe(kvm.mmio) + "; ";
  }
  for (uint64_t page : v.data_pages) {
    for (uint64_t i = 0; i < 4096; ++i) {
      if (platform.byte(page + i) != oracle.ram()[page + i]) {
        diff += fmt::format("RAM {:#x}: lib/x86 {:#04x}, KVM {:#04x}; ", page + i,
                            platform.byte(page + i), oracle.ram()[page + i]);
        break;
      }
    }
  }
  if (v.fpu) {
    for (size_t i = 0; i < 16; ++i) {
      if (state.fpu->xmm[i] != kvm.fpu.xmm[i]) {
        diff += fmt::format("xmm{}: lib/x86 {}, KVM {}; ", i, hex(state.fpu->xmm[i]),
                            hex(kvm.fpu.xmm[i]));
      }
    }
  }
  if (diff.empty()) {
    ++stats.completed;
    if (!kvm.mmio.empty()) ++stats.with_mmio;
  }
  return diff;
}

// Runs the generator's probes: where the CPU under KVM departs from the SDM.
Expected<CpuDeviations> probe_cpu(KvmOracle& oracle) {
  VariantGenerator generator(0, oracle.ram(), oracle.initial_sregs());
  auto run = [&](CpuProbe which) {
    const Variant v = generator.probe(which);
    return oracle.run(v.bytes, v.code_gpa, v.regs, v.sregs, v.fpu);
  };
  CpuDeviations cpu;
  FERRY_ASSIGN(const OracleResult cs, run(CpuProbe::kCodeSegmentWrite));
  cpu.code_segment_writes = cs.end == OracleResult::End::kCompleted;
  FERRY_ASSIGN(const OracleResult rmw, run(CpuProbe::kRmwFault));
  cpu.rmw_faults_as_reads = rmw.vector == static_cast<uint8_t>(Vector::kPf) && rmw.error_code &&
                            (*rmw.error_code & kPfWrite) == 0;
  FERRY_ASSIGN(const OracleResult ss, run(CpuProbe::kNoncanonicalStack));
  cpu.noncanonical_stack_gp = ss.vector == static_cast<uint8_t>(Vector::kGp);
  return cpu;
}

class DifferentialTest : public ::testing::TestWithParam<TestMode> {
 protected:
  static void SetUpTestSuite() {
    if (!::ferry::test::kvm_unusable_reason().empty()) return;
    auto created = KvmOracle::create();
    if (!created) {
      std::cerr << "cannot create the KVM oracle: " << created.error().message() << "\n";
      return;
    }
    oracle_ = std::move(*created);
    cpu_ = probe_cpu(*oracle_);
  }
  static void TearDownTestSuite() { oracle_.reset(); }

  static std::unique_ptr<KvmOracle> oracle_;
  static Expected<CpuDeviations> cpu_;
};

std::unique_ptr<KvmOracle> DifferentialTest::oracle_;
Expected<CpuDeviations> DifferentialTest::cpu_;

bool applies(const Template& form, TestMode mode) {
  if (form.long_mode_only && mode != TestMode::kLong) return false;
  return true;
}

TEST_P(DifferentialTest, AgreesWithKvm) {
  FERRY_REQUIRE_KVM();
  ASSERT_NE(oracle_, nullptr) << "the KVM oracle VM could not be created (see stderr)";
  const TestMode mode = GetParam();
  {
    // Not every KVM runs every mode (kvm-pvm pages only in long mode): ask it with a NOP.
    VariantGenerator probe(0, oracle_->ram(), oracle_->initial_sregs());
    const Variant v = probe.generate(mode, instruction_templates()[0]);
    const uint8_t nop[] = {0x90};
    auto ran = oracle_->run(nop, v.code_gpa, v.regs, v.sregs, std::nullopt);
    ASSERT_TRUE(ran) << ran.error().message();
    if (ran->end != OracleResult::End::kCompleted) {
      GTEST_SKIP() << "this host's KVM cannot run a NOP in mode " << mode_name(mode)
                   << " (kvm-pvm, for one, pages only in long mode); lib/x86's page walk for it "
                      "is covered by the unit tests only";
    }
  }
  ASSERT_TRUE(cpu_) << "probing the CPU under KVM: " << cpu_.error().message();
  const uint64_t seed = env_number("FERRY_X86_SEED", kDefaultSeed) + static_cast<uint64_t>(mode);
  const auto per_form = static_cast<unsigned>(env_number("FERRY_X86_VARIANTS", kDefaultVariants));
  VariantGenerator generator(seed, oracle_->ram(), oracle_->initial_sregs(), *cpu_);
  Stats stats;
  std::map<std::string, unsigned> refused_by_form;
  const auto start = std::chrono::steady_clock::now();
  const char* only = std::getenv("FERRY_X86_ONLY");  // a substring of the form names to run
  for (const Template& form : instruction_templates()) {
    if (!applies(form, mode)) continue;
    if (only != nullptr && std::strstr(form.name, only) == nullptr) continue;
    for (unsigned i = 0; i < per_form; ++i) {
      const Variant v = generator.generate(mode, form);
      ++stats.variants;
      const unsigned refused_before = stats.oracle_refused;
      const std::string diff = compare(*oracle_, v, stats);
      if (stats.oracle_refused != refused_before) ++refused_by_form[form.name];
      if (diff.empty()) continue;
      ++stats.failures;
      if (stats.failures <= kMaxReportedFailures) {
        ADD_FAILURE() << "mode " << mode_name(mode) << ", form " << form.name << ", variant " << i
                      << " (FERRY_X86_SEED=" << env_number("FERRY_X86_SEED", kDefaultSeed)
                      << "), bytes " << hex(v.bytes) << "\n  " << diff;
      }
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << fmt::format(
      "[ x86-diff ] mode {}: {} variants in {:.2f} s: {} agreed on completion ({} with MMIO), {} "
      "agreed on a fault ({} of them on vector and error code), {} refused by KVM's emulator, {} "
      "differed\n",
      mode_name(mode), stats.variants, seconds, stats.completed, stats.with_mmio, stats.faulted,
      stats.faults_checked, stats.oracle_refused, stats.failures);
  if (generator.steered() != 0) {
    std::cout << fmt::format(
        "[ x86-diff ]   {} variants kept off where the CPU under KVM departs from the SDM: {}\n",
        generator.steered(), describe(*cpu_));
  }
  for (const auto& [name, count] : refused_by_form) {
    std::cout << fmt::format("[ x86-diff ]   KVM could not emulate {} ({} variants)\n", name,
                             count);
  }
  EXPECT_EQ(stats.failures, 0u);
  // The comparison must have exercised the emulator, not only faults and refusals.
  EXPECT_GT(stats.with_mmio, stats.variants / 3);
}

INSTANTIATE_TEST_SUITE_P(Modes, DifferentialTest,
                         ::testing::Values(TestMode::kReal, TestMode::kProt16, TestMode::kProt32,
                                           TestMode::kProt32Paging, TestMode::kProt32Pae,
                                           TestMode::kCompat32, TestMode::kLong),
                         [](const auto& param_info) {
                           std::string name = mode_name(param_info.param);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace ferry::x86::test

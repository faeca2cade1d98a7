// One variant of the differential test: lib/x86 and KVM each run it from the same snapshot of
// RAM, registers and MMIO values, and each result is compared with the other (RAM changes as
// against the snapshot). A Mutation breaks lib/x86's side on purpose, so a test can show the
// comparison reports it (differential_mutant_test.cc).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "ferry/x86/emulator.h"
#include "kvm_oracle.h"
#include "variant_generator.h"

namespace ferry::x86::test {

struct Mutation {
  /// Wraps the platform lib/x86 runs on (null: lib/x86 runs on the snapshot itself).
  std::function<std::unique_ptr<Platform>(Platform& snapshot)> platform = nullptr;
  /// Changes lib/x86's result before it is compared (null: left as it is).
  std::function<void(Outcome&, CpuState&)> result = nullptr;
};

struct Comparison {
  enum class Verdict : uint8_t { kAgreedOnCompletion, kAgreedOnFault, kRefusedByKvm, kDiffered };
  Verdict verdict = Verdict::kDiffered;
  std::string differences = {};  // kDiffered: what differs, "; "-separated
  bool reached_mmio = false;     // kAgreedOnCompletion: KVM saw MMIO
  bool single_stepped = false;   // kAgreedOnCompletion: both raised the single-step trap after it
  // kAgreedOnCompletion: lib/x86 asked for the trap, and KVM, whose emulator leaves it out after
  // an instruction ending in an MMIO write, did not raise it (registers compared without it).
  bool kvm_omitted_single_step = false;
};

const char* verdict_name(Comparison::Verdict verdict);

/// Runs `v` on lib/x86 (broken by `mutation`, if given) and on `oracle`, and compares.
Comparison compare_with_kvm(KvmOracle& oracle, const Variant& v, const Mutation& mutation = {});

}  // namespace ferry::x86::test

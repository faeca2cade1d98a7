#include "differential_harness.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <vector>

#include "snapshot_platform.h"

namespace ferry::x86::test {
namespace {

std::string hex(std::span<const uint8_t> bytes) {
  std::string out;
  for (uint8_t b : bytes) out += fmt::format("{:02x} ", b);
  return out;
}

Comparison differed(std::string differences) {
  return {.verdict = Comparison::Verdict::kDiffered, .differences = std::move(differences)};
}

// Both sides faulted: KVM's handler must have reported the same exception (every mode has
// handlers, kvm_oracle.cc; a shutdown means the harness failed to deliver it).
Comparison compare_faults(const Fault& ours, const OracleResult& kvm) {
  if (!kvm.vector) {
    return differed("lib/x86 raised " + describe(ours) +
                    "; KVM stopped without its handler reporting an exception");
  }
  std::string diff;
  if (*kvm.vector != static_cast<uint8_t>(ours.vector)) {
    diff += fmt::format("vector: lib/x86 {}, KVM {}; ", describe(ours), *kvm.vector);
  }
  if (kvm.error_code != ours.error_code) {
    diff += fmt::format("error code: lib/x86 {}, KVM {}; ", describe(ours),
                        kvm.error_code ? fmt::format("{:#x}", *kvm.error_code) : "none");
  }
  if (ours.vector == Vector::kPf && kvm.cr2 != ours.cr2) {
    diff += fmt::format("cr2: lib/x86 {:#x}, KVM {:#x}; ", ours.cr2, kvm.cr2);
  }
  if (!diff.empty()) return differed(diff);
  return {.verdict = Comparison::Verdict::kAgreedOnFault};
}

std::string compare_registers(const Variant& v, const accel::Regs& ours,
                              const accel::Regs& theirs) {
  static constexpr uint64_t accel::Regs::*kFields[] = {
      &accel::Regs::rax, &accel::Regs::rcx, &accel::Regs::rdx, &accel::Regs::rbx, &accel::Regs::rsp,
      &accel::Regs::rbp, &accel::Regs::rsi, &accel::Regs::rdi, &accel::Regs::r8,  &accel::Regs::r9,
      &accel::Regs::r10, &accel::Regs::r11, &accel::Regs::r12, &accel::Regs::r13, &accel::Regs::r14,
      &accel::Regs::r15, &accel::Regs::rip};
  static constexpr const char* kNames[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp",
                                           "rsi", "rdi", "r8",  "r9",  "r10", "r11",
                                           "r12", "r13", "r14", "r15", "rip"};
  std::string diff;
  for (size_t i = 0; i < std::size(kFields); ++i) {
    if (ours.*kFields[i] != theirs.*kFields[i]) {
      diff += fmt::format("{}: lib/x86 {:#x}, KVM {:#x} (was {:#x}); ", kNames[i], ours.*kFields[i],
                          theirs.*kFields[i], v.regs.*kFields[i]);
    }
  }
  if ((ours.rflags & v.flags_compared) != (theirs.rflags & v.flags_compared)) {
    diff += fmt::format("rflags: lib/x86 {:#x}, KVM {:#x} (was {:#x}, compared {:#x}); ",
                        ours.rflags, theirs.rflags, v.regs.rflags, v.flags_compared & 0xfff);
  }
  return diff;
}

// Each data page as lib/x86 left it and as KVM left it; both started from `start`.
std::string compare_ram(const Variant& v, const RamSnapshot& start, const SnapshotPlatform& ours,
                        std::span<const uint8_t> kvm_ram) {
  std::string diff;
  for (uint64_t page : v.data_pages) {
    for (uint64_t gpa = page; gpa < page + RamSnapshot::kBytesPerPage; ++gpa) {
      if (ours.byte(gpa) != kvm_ram[gpa]) {
        diff += fmt::format("RAM {:#x}: lib/x86 {:#04x}, KVM {:#04x} (was {:#04x}); ", gpa,
                            ours.byte(gpa), kvm_ram[gpa], start.byte(gpa));
        break;
      }
    }
  }
  return diff;
}

std::string compare_xmm(const accel::FpuState& ours, const accel::FpuState& theirs) {
  std::string diff;
  for (size_t i = 0; i < std::size(ours.xmm); ++i) {
    if (ours.xmm[i] != theirs.xmm[i]) {
      diff += fmt::format("xmm{}: lib/x86 {}, KVM {}; ", i, hex(ours.xmm[i]), hex(theirs.xmm[i]));
    }
  }
  return diff;
}

}  // namespace

const char* verdict_name(Comparison::Verdict verdict) {
  switch (verdict) {
    case Comparison::Verdict::kAgreedOnCompletion:
      return "agreed on completion";
    case Comparison::Verdict::kAgreedOnFault:
      return "agreed on a fault";
    case Comparison::Verdict::kRefusedByKvm:
      return "refused by KVM's emulator";
    case Comparison::Verdict::kDiffered:
      return "differed";
  }
  return "?";
}

Comparison compare_with_kvm(KvmOracle& oracle, const Variant& v, const Mutation& mutation) {
  // The code is in RAM before the snapshot: lib/x86 fetches what it is not handed from there.
  if (auto placed = oracle.place_code(v.bytes, v.code_gpa); !placed) {
    return differed("harness: " + placed.error().message());
  }
  // Taken before either side runs: KVM writes the oracle's RAM in place.
  std::vector<uint64_t> pages = v.data_pages;
  pages.insert(pages.end(), v.table_pages.begin(), v.table_pages.end());
  pages.push_back(v.code_gpa & ~(RamSnapshot::kBytesPerPage - 1));
  const RamSnapshot start(oracle.ram(), pages);

  SnapshotPlatform snapshot(start, oracle.ram().size());
  std::unique_ptr<Platform> wrapped = mutation.platform ? mutation.platform(snapshot) : nullptr;
  Emulator emulator(wrapped ? *wrapped : snapshot, {.vendor = oracle.vendor()});
  CpuState state{v.regs, v.sregs, v.fpu};
  const size_t given = std::min(v.bytes_given, v.bytes.size());
  auto outcome = emulator.emulate(state, std::span(v.bytes).first(given));
  if (!outcome) return differed("lib/x86 error: " + outcome.error().message());
  if (outcome->kind == Outcome::Kind::kNeedsFpu) {
    return differed("lib/x86 asked for the FPU it was given");
  }
  if (mutation.result) mutation.result(*outcome, state);
  if (!snapshot.outside_snapshot().empty()) {
    return differed(fmt::format("harness: lib/x86 accessed RAM at {:#x}, outside the snapshot",
                                snapshot.outside_snapshot().front()));
  }

  auto oracle_result = oracle.run(v.bytes, v.code_gpa, v.regs, v.sregs, v.fpu);
  if (!oracle_result) {
    if (oracle_result.error().message().find("could not emulate") != std::string::npos) {
      return {.verdict = Comparison::Verdict::kRefusedByKvm};
    }
    return differed("oracle error: " + oracle_result.error().message());
  }
  const OracleResult& kvm = *oracle_result;
  const bool we_faulted = outcome->kind == Outcome::Kind::kFault;
  if (kvm.end == OracleResult::End::kTimeout) return differed("KVM did not finish the instruction");
  if (we_faulted && kvm.end == OracleResult::End::kFault)
    return compare_faults(outcome->fault, kvm);
  if (we_faulted)
    return differed("lib/x86 faulted (" + describe(outcome->fault) + "), KVM completed");
  // With RFLAGS.TF the CPU traps (#DB) after the instruction: lib/x86 must ask for it, and the
  // registers compared are those the trap found.
  const bool trapped = kvm.vector == static_cast<uint8_t>(Vector::kDb) && kvm.trapped_regs;
  // KVM's emulator raises the trap only for an instruction it finishes in the kernel: one whose
  // last access is an MMIO write ends in the exit to user space, and the trap is left out
  // (x86_emulate_instruction steps only when it returns to the guest). The oracle departs there.
  const bool kvm_omits_trap = outcome->single_step && kvm.end == OracleResult::End::kCompleted &&
                              !kvm.mmio.empty() && kvm.mmio.back().write;
  if (outcome->single_step && !trapped && !kvm_omits_trap) {
    return differed(
        kvm.end == OracleResult::End::kFault
            ? fmt::format("lib/x86 asked for the single-step trap, KVM raised vector {}",
                          kvm.vector ? int{*kvm.vector} : -1)
            : "lib/x86 asked for the single-step trap, KVM completed without one");
  }
  if (kvm.end == OracleResult::End::kFault && !outcome->single_step) {
    return differed(fmt::format("KVM faulted (vector {}, rip {:#x}, cr2 {:#x}), lib/x86 completed",
                                kvm.vector ? int{*kvm.vector} : -1, kvm.regs.rip, kvm.cr2));
  }

  std::string diff = compare_registers(v, state.regs, trapped ? *kvm.trapped_regs : kvm.regs);
  const std::vector<MmioAccess> our_mmio = in_kvm_pieces(snapshot.mmio());
  if (our_mmio != kvm.mmio) {
    diff += "MMIO: lib/x86 " + describe(our_mmio) + " KVM " + describe(kvm.mmio) + "; ";
  }
  diff += compare_ram(v, start, snapshot, oracle.ram());
  if (v.fpu) diff += compare_xmm(*state.fpu, kvm.fpu);
  if (!diff.empty()) return differed(diff);
  return {.verdict = Comparison::Verdict::kAgreedOnCompletion,
          .reached_mmio = !kvm.mmio.empty(),
          .single_stepped = trapped,
          .kvm_omitted_single_step = kvm_omits_trap};
}

}  // namespace ferry::x86::test

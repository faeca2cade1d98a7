#include "x86_mmio_emulator.h"

#include <array>
#include <cstring>

#include "hv_registers.h"

namespace ferry::mshv {
namespace {

// What lib/x86 reads of the VP: the general registers, RIP and RFLAGS (kGeneralRegisterNames's
// order), then the segments it addresses through and the registers that set the mode and paging.
constexpr size_t kGeneral = 18;
const std::array<uint32_t, kGeneral + 10> kStateNames = [] {
  std::array<uint32_t, kGeneral + 10> names{};
  for (size_t i = 0; i < kGeneral; ++i) names[i] = kGeneralRegisterNames[i];
  const uint32_t rest[] = {kHvRegEs, kHvRegCs,  kHvRegSs,  kHvRegDs,  kHvRegFs,
                           kHvRegGs, kHvRegCr0, kHvRegCr3, kHvRegCr4, kHvRegEfer};
  for (size_t i = 0; i < std::size(rest); ++i) names[kGeneral + i] = rest[i];
  return names;
}();

Expected<x86::CpuState> read_state(VpContext& vp) {
  std::array<HvRegisterValue, kStateNames.size()> v{};
  FERRY_TRY(vp.read_values(kStateNames, v));
  x86::CpuState state;
  state.regs = regs_from_values(std::span<const HvRegisterValue, kGeneral>(v.data(), kGeneral));
  accel::SpecialRegs& s = state.sregs;
  accel::Segment* segments[] = {&s.es, &s.cs, &s.ss, &s.ds, &s.fs, &s.gs};
  for (size_t i = 0; i < std::size(segments); ++i) {
    HvX64SegmentRegister segment;
    std::memcpy(&segment, &v[kGeneral + i], sizeof segment);
    *segments[i] = segment_from_hv(segment);
  }
  s.cr0 = v[kGeneral + 6].low;
  s.cr3 = v[kGeneral + 7].low;
  s.cr4 = v[kGeneral + 8].low;
  s.efer = v[kGeneral + 9].low;
  return state;
}

Expected<accel::FpuState> read_fpu(VpContext& vp) {
  std::array<HvRegisterValue, 18> values{};
  FERRY_TRY(vp.read_values(kFpuRegisterNames, values));
  return fpu_from_values(values);
}

Expected<void> write_xmm(VpContext& vp, const accel::FpuState& fpu, uint16_t written) {
  std::array<uint32_t, 16> names{};
  std::array<HvRegisterValue, 16> values{};
  size_t count = 0;
  for (uint32_t i = 0; i < 16; ++i) {
    if ((written & (1u << i)) == 0) continue;
    names[count] = kHvRegXmm0 + i;
    std::memcpy(&values[count++], fpu.xmm[i].data(), sizeof(HvRegisterValue));
  }
  return vp.write_values({names.data(), count}, {values.data(), count});
}

// The hypervisor delivers the exception when the VP next runs. What the guest's handler reads
// beside it goes in the same write: CR2 of a page fault; DR6.BS of the single-step trap, which
// the hypervisor, not having run the instruction, does not set.
Expected<void> inject(VpContext& vp, const x86::Fault& fault) {
  constexpr uint64_t kDr6SingleStep = 1ull << 14;
  const bool debug = fault.vector == x86::Vector::kDb;
  const uint32_t read_names[] = {kHvRegPendingInterruption, kHvRegDr6};
  HvRegisterValue read[2]{};
  const size_t reads = debug ? 2 : 1;
  FERRY_TRY(vp.read_values(std::span(read_names).first(reads), std::span(read).first(reads)));
  const HvRegisterValue pending = read[0];
  if (pending.low & kPendingInterruptionPending) {
    return fail(Errc::kUnsupported,
                "the instruction raised {}, but the VP already has an event pending "
                "(pending interruption {:#x}); ferry cannot combine them into a double fault",
                x86::describe(fault), pending.low);
  }
  const uint64_t value = pending_exception(static_cast<uint8_t>(fault.vector), fault.error_code);
  if (fault.vector == x86::Vector::kPf) {
    const uint32_t names[] = {kHvRegCr2, kHvRegPendingInterruption};
    const HvRegisterValue values[] = {{fault.cr2, 0}, {value, 0}};
    return vp.write_values(names, values);
  }
  if (debug) {
    const uint32_t names[] = {kHvRegDr6, kHvRegPendingInterruption};
    const HvRegisterValue values[] = {{read[1].low | kDr6SingleStep, read[1].high}, {value, 0}};
    return vp.write_values(names, values);
  }
  const HvRegisterValue values[] = {{value, 0}};
  return vp.write_values(std::span(read_names).first(1), values);
}

x86::CpuVendor host_vendor(MshvDriver& driver) {
  // "AuthenticAMD" and "HygonGenuine" follow AMD's architecture; everything else Intel's.
  const uint32_t ebx = driver.host_cpuid(0, 0).ebx;
  return ebx == 0x68747541 || ebx == 0x6f677948 ? x86::CpuVendor::kAmd : x86::CpuVendor::kIntel;
}

}  // namespace

X86MmioEmulator::X86MmioEmulator(x86::EmulatorOptions options)
    : emulator_(platform_, translator_, options) {}

Expected<void> X86MmioEmulator::emulate(const MemoryIntercept& intercept, VpContext& vp,
                                        accel::GuestIo& io) noexcept {
  platform_.bind(vp, io);
  translator_.bind(vp, intercept);
  auto done = carry_out(intercept, vp);
  if (!done) {
    const char* access = intercept.access_type == kHvAccessWrite ? "write" : "read";
    return fail(done.error().context(
        intercept.gpa ? fmt::format("emulating the MMIO {} at RIP {:#x} (GPA {:#x})", access,
                                    intercept.rip, *intercept.gpa)
                      : fmt::format("emulating the MMIO {} at RIP {:#x}", access, intercept.rip)));
  }
  return {};
}

Expected<void> X86MmioEmulator::carry_out(const MemoryIntercept& intercept, VpContext& vp) {
  FERRY_ASSIGN(x86::CpuState state, read_state(vp));
  if (state.regs.rip != intercept.rip) {
    return fail(Errc::kInternal,
                "the VP's RIP {:#x} is not the intercepted instruction's {:#x}; the register "
                "state does not belong to this intercept",
                state.regs.rip, intercept.rip);
  }
  FERRY_ASSIGN(x86::Outcome outcome, emulator_.emulate(state, intercept.instruction));
  if (outcome.kind == x86::Outcome::Kind::kNeedsFpu) {
    // An SSE move: only now is the XMM state worth its hypercall.
    FERRY_ASSIGN(state.fpu, read_fpu(vp));
    FERRY_ASSIGN(outcome, emulator_.emulate(state, intercept.instruction));
    if (outcome.kind == x86::Outcome::Kind::kNeedsFpu) {
      return fail(Errc::kInternal, "the x86 emulator asked for the FPU state twice");
    }
  }
  // After a fault the registers are as before the instruction, except what a REP completed.
  FERRY_TRY(vp.write_values(kGeneralRegisterNames, regs_to_values(state.regs)));
  if (outcome.kind == x86::Outcome::Kind::kFault) return inject(vp, outcome.fault);
  if (outcome.xmm_written != 0) FERRY_TRY(write_xmm(vp, *state.fpu, outcome.xmm_written));
  if (outcome.single_step) {
    return inject(vp, {.vector = x86::Vector::kDb,
                       .error_code = std::nullopt,
                       .cr2 = 0,
                       .reason = "single step (RFLAGS.TF)"});
  }
  return {};
}

std::unique_ptr<MmioEmulator> make_x86_mmio_emulator(MshvDriver& driver) {
  return std::make_unique<X86MmioEmulator>(x86::EmulatorOptions{.vendor = host_vendor(driver)});
}

}  // namespace ferry::mshv

#include "fake_vp.h"

#include <cstring>

namespace ferry::test {

using namespace mshv;

namespace {

constexpr uint64_t kCr0Reset = 0x60000010;
constexpr uint16_t kCodeAttributes = 0x9b, kDataAttributes = 0x93;

bool known_register(uint32_t name) {
  return (name >= kHvRegRax && name <= kHvRegRflags) ||
         (name >= kHvRegXmm0 && name <= kHvRegXmmControlStatus) ||
         (name >= kHvRegCr0 && name <= kHvRegXfem) || (name >= kHvRegDr0 && name <= kHvRegDr7) ||
         (name >= kHvRegEs && name <= kHvRegTr) || name == kHvRegIdtr || name == kHvRegGdtr ||
         (name >= kHvRegTsc && name <= kHvRegSfmask) || name == kHvRegPendingInterruption ||
         name == kHvRegInterruptState;
}

template <class T>
HvRegisterValue as_value(const T& v) {
  HvRegisterValue out{};
  std::memcpy(&out, &v, sizeof v);
  return out;
}

}  // namespace

FakeVp::FakeVp(unsigned index, Mapping register_page, EventFd wake)
    : index_(index), pages_(std::move(register_page)), wake_(std::move(wake)) {
  reset_registers();
  HvLapicState lapic{};
  lapic.apic_id = index << 24;
  lapic.apic_version = 0x50014;
  lapic.apic_spurious = 0xff;
  lapic.apic_lvt_timer = lapic.apic_lvt_thermal = lapic.apic_lvt_perfmon = 0x10000;
  lapic.apic_lvt_lint0 = lapic.apic_lvt_lint1 = lapic.apic_lvt_error = 0x10000;
  std::memcpy(lapic_.data(), &lapic, sizeof lapic);
}

void FakeVp::reset_registers() {
  // Every register the fake knows starts at its reset value (zero unless said otherwise).
  for (uint32_t name = kHvRegRax; name <= kHvRegRflags; ++name) registers_[name] = {};
  for (uint32_t name = kHvRegXmm0; name <= kHvRegXmmControlStatus; ++name) registers_[name] = {};
  for (uint32_t name = kHvRegCr0; name <= kHvRegXfem; ++name) registers_[name] = {};
  for (uint32_t name = kHvRegDr0; name <= kHvRegDr7; ++name) registers_[name] = {};
  for (uint32_t name = kHvRegTsc; name <= kHvRegSfmask; ++name) registers_[name] = {};
  registers_[kHvRegPendingInterruption] = {};
  registers_[kHvRegInterruptState] = {};
  set_reg(kHvRegRflags, 0x2);
  set_reg(kHvRegRip, 0xfff0);
  set_reg(kHvRegCr0, kCr0Reset);
  set_reg(kHvRegXfem, 1);
  set_reg(kHvRegApicBase, 0xfee00800 | (index_ == 0 ? 0x100 : 0));
  registers_[kHvRegFpControlStatus] = {0x37f, 0};
  registers_[kHvRegXmmControlStatus] = {0, 0x1f80};
  registers_[kHvRegCs] =
      as_value(HvX64SegmentRegister{0xffff0000, 0xffff, 0xf000, kCodeAttributes});
  for (uint32_t name : {kHvRegDs, kHvRegEs, kHvRegSs, kHvRegFs, kHvRegGs}) {
    registers_[name] = as_value(HvX64SegmentRegister{0, 0xffff, 0, kDataAttributes});
  }
  registers_[kHvRegLdtr] = as_value(HvX64SegmentRegister{0, 0xffff, 0, 0x82});
  registers_[kHvRegTr] = as_value(HvX64SegmentRegister{0, 0xffff, 0, 0x8b});
  registers_[kHvRegGdtr] = as_value(HvX64TableRegister{{0, 0, 0}, 0xffff, 0});
  registers_[kHvRegIdtr] = as_value(HvX64TableRegister{{0, 0, 0}, 0xffff, 0});
}

std::optional<HvRegisterValue> FakeVp::get(uint32_t name) const {
  if (!known_register(name)) return std::nullopt;
  return registers_.at(name);
}

bool FakeVp::set(uint32_t name, const HvRegisterValue& value) {
  if (!known_register(name)) return false;
  registers_[name] = value;
  return true;
}

HvX64SegmentRegister FakeVp::segment(uint32_t name) const {
  HvX64SegmentRegister s;
  std::memcpy(&s, &registers_.at(name), sizeof s);
  return s;
}

FakePagingState FakeVp::paging() const {
  return {reg(kHvRegCr0), reg(kHvRegCr3), reg(kHvRegCr4), reg(kHvRegEfer),
          static_cast<unsigned>(segment(kHvRegCs).selector & 3)};
}

void FakeVp::take_register_page() {
  HvVpRegisterPage& p = page();
  if (!p.isvalid) return;  // the hypervisor ignores a page it has not filled
  if (p.dirty & kDirtyGeneral) {
    for (uint32_t i = 0; i < 16; ++i) set_reg(kHvRegRax + i, p.gp[i]);
  }
  if (p.dirty & kDirtyIp) set_reg(kHvRegRip, p.rip);
  if (p.dirty & kDirtyFlags) set_reg(kHvRegRflags, p.rflags);
  if (p.dirty & kDirtyXmm) {
    for (uint32_t i = 0; i < 6; ++i) registers_[kHvRegXmm0 + i] = p.xmm[i];
  }
  if (p.dirty & kDirtySegment) {
    const uint32_t names[] = {kHvRegEs, kHvRegCs, kHvRegSs, kHvRegDs, kHvRegFs, kHvRegGs};
    for (uint32_t i = 0; i < 6; ++i) registers_[names[i]] = as_value(p.segments[i]);
  }
  p.dirty = 0;
}

void FakeVp::fill_register_page() {
  HvVpRegisterPage& p = page();
  p.version = 1;
  for (uint32_t i = 0; i < 16; ++i) p.gp[i] = reg(kHvRegRax + i);
  p.rip = reg(kHvRegRip);
  p.rflags = reg(kHvRegRflags);
  for (uint32_t i = 0; i < 6; ++i) p.xmm[i] = registers_.at(kHvRegXmm0 + i);
  const uint32_t names[] = {kHvRegEs, kHvRegCs, kHvRegSs, kHvRegDs, kHvRegFs, kHvRegGs};
  for (uint32_t i = 0; i < 6; ++i) p.segments[i] = segment(names[i]);
  p.cr0 = reg(kHvRegCr0), p.cr3 = reg(kHvRegCr3), p.cr4 = reg(kHvRegCr4);
  p.cr8 = reg(kHvRegCr8), p.efer = reg(kHvRegEfer), p.dr7 = reg(kHvRegDr7);
  p.pending_interruption = reg(kHvRegPendingInterruption);
  p.interrupt_state = reg(kHvRegInterruptState);
  p.dirty = 0;
  p.isvalid = 1;
}

void FakeVp::set_cpuid_result(const HvCpuidResultParameters& params) {
  const uint32_t subleaf = params.subleaf_specific ? params.input_ecx : 0;
  cpuid_[{params.input_eax, params.subleaf_specific ? subleaf : ~0u}] = params;
}

CpuidRegs FakeVp::cpuid(const CpuidRegs& host, uint32_t leaf, uint32_t subleaf) const {
  auto it = cpuid_.find({leaf, subleaf});
  if (it == cpuid_.end()) it = cpuid_.find({leaf, ~0u});  // registered for every subleaf
  if (it == cpuid_.end()) return host;
  const HvCpuidResultParameters& p = it->second;
  auto apply = [](uint32_t base, uint32_t value, uint32_t mask) {
    return (base & ~mask) | (value & mask);
  };
  return {apply(host.eax, p.eax, p.eax_mask), apply(host.ebx, p.ebx, p.ebx_mask),
          apply(host.ecx, p.ecx, p.ecx_mask), apply(host.edx, p.edx, p.edx_mask)};
}

}  // namespace ferry::test

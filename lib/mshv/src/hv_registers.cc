#include "hv_registers.h"

#include <cstring>

namespace ferry::mshv {
namespace {

template <class T>
HvRegisterValue to_value(const T& value) {
  static_assert(sizeof(T) <= sizeof(HvRegisterValue));
  HvRegisterValue v{};
  std::memcpy(&v, &value, sizeof value);
  return v;
}

template <class T>
T from_value(const HvRegisterValue& v) {
  T value{};
  std::memcpy(&value, &v, sizeof value);
  return value;
}

HvRegisterValue u64(uint64_t value) { return {value, 0}; }

accel::DescriptorTable table_from_hv(const HvRegisterValue& v) {
  auto t = from_value<HvX64TableRegister>(v);
  return {t.base, t.limit};
}

HvRegisterValue table_to_hv(const accel::DescriptorTable& table) {
  HvX64TableRegister t{};
  t.base = table.base;
  t.limit = table.limit;
  return to_value(t);
}

// Hardware order of the page's gp[] array for each field of accel::Regs.
constexpr std::array<unsigned, 16> kAccelToHardware = {0, 3, 1,  2,  6,  7,  4,  5,
                                                       8, 9, 10, 11, 12, 13, 14, 15};

uint64_t* accel_gpr(accel::Regs& r, unsigned i) {
  uint64_t* fields[] = {&r.rax, &r.rbx, &r.rcx, &r.rdx, &r.rsi, &r.rdi, &r.rsp, &r.rbp,
                        &r.r8,  &r.r9,  &r.r10, &r.r11, &r.r12, &r.r13, &r.r14, &r.r15};
  return fields[i];
}

}  // namespace

const std::array<uint32_t, 18> kGeneralRegisterNames = {
    kHvRegRax,    kHvRegRbx,    kHvRegRcx,    kHvRegRdx,    kHvRegRsi,    kHvRegRdi,
    kHvRegRsp,    kHvRegRbp,    kHvRegR8,     kHvRegR8 + 1, kHvRegR8 + 2, kHvRegR8 + 3,
    kHvRegR8 + 4, kHvRegR8 + 5, kHvRegR8 + 6, kHvRegR15,    kHvRegRip,    kHvRegRflags};

accel::Regs regs_from_values(std::span<const HvRegisterValue, 18> values) {
  accel::Regs regs;
  for (unsigned i = 0; i < 16; ++i) *accel_gpr(regs, i) = values[i].low;
  regs.rip = values[16].low;
  regs.rflags = values[17].low;
  return regs;
}

std::array<HvRegisterValue, 18> regs_to_values(const accel::Regs& regs) {
  accel::Regs copy = regs;
  std::array<HvRegisterValue, 18> values{};
  for (unsigned i = 0; i < 16; ++i) values[i] = u64(*accel_gpr(copy, i));
  values[16] = u64(regs.rip);
  values[17] = u64(regs.rflags);
  return values;
}

const std::array<uint32_t, 17> kSpecialRegisterNames = {
    kHvRegCs,  kHvRegDs,   kHvRegEs,   kHvRegFs,   kHvRegGs,      kHvRegSs,
    kHvRegTr,  kHvRegLdtr, kHvRegGdtr, kHvRegIdtr, kHvRegCr0,     kHvRegCr2,
    kHvRegCr3, kHvRegCr4,  kHvRegCr8,  kHvRegEfer, kHvRegApicBase};

accel::Segment segment_from_hv(const HvX64SegmentRegister& s) {
  const uint16_t a = s.attributes;
  accel::Segment out;
  out.base = s.base;
  out.limit = s.limit;
  out.selector = s.selector;
  out.type = static_cast<uint8_t>(a & kSegTypeMask);
  out.s = (a >> kSegSystemShift) & 1;
  out.dpl = static_cast<uint8_t>((a >> kSegDplShift) & 3);
  out.present = (a >> kSegPresentShift) & 1;
  out.avl = (a >> kSegAvlShift) & 1;
  out.l = (a >> kSegLongShift) & 1;
  out.db = (a >> kSegDefaultShift) & 1;
  out.g = (a >> kSegGranularityShift) & 1;
  // The hypervisor has no "unusable" bit: a segment that is not present is unusable.
  out.unusable = !out.present;
  return out;
}

HvX64SegmentRegister segment_to_hv(const accel::Segment& s) {
  HvX64SegmentRegister out{};
  out.base = s.base;
  out.limit = s.limit;
  out.selector = s.selector;
  const bool present = s.present && !s.unusable;
  out.attributes = static_cast<uint16_t>(
      (s.type & kSegTypeMask) | (uint16_t{s.s} << kSegSystemShift) |
      ((s.dpl & 3u) << kSegDplShift) | (uint16_t{present} << kSegPresentShift) |
      (uint16_t{s.avl} << kSegAvlShift) | (uint16_t{s.l} << kSegLongShift) |
      (uint16_t{s.db} << kSegDefaultShift) | (uint16_t{s.g} << kSegGranularityShift));
  return out;
}

accel::SpecialRegs sregs_from_values(std::span<const HvRegisterValue, 17> v) {
  accel::SpecialRegs s;
  accel::Segment* segments[] = {&s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss, &s.tr, &s.ldt};
  for (unsigned i = 0; i < 8; ++i) {
    *segments[i] = segment_from_hv(from_value<HvX64SegmentRegister>(v[i]));
  }
  s.gdt = table_from_hv(v[8]);
  s.idt = table_from_hv(v[9]);
  s.cr0 = v[10].low, s.cr2 = v[11].low, s.cr3 = v[12].low, s.cr4 = v[13].low;
  s.cr8 = v[14].low, s.efer = v[15].low, s.apic_base = v[16].low;
  return s;
}

std::array<HvRegisterValue, 17> sregs_to_values(const accel::SpecialRegs& s) {
  std::array<HvRegisterValue, 17> v{};
  const accel::Segment* segments[] = {&s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss, &s.tr, &s.ldt};
  for (unsigned i = 0; i < 8; ++i) v[i] = to_value(segment_to_hv(*segments[i]));
  v[8] = table_to_hv(s.gdt);
  v[9] = table_to_hv(s.idt);
  v[10] = u64(s.cr0), v[11] = u64(s.cr2), v[12] = u64(s.cr3), v[13] = u64(s.cr4);
  v[14] = u64(s.cr8), v[15] = u64(s.efer), v[16] = u64(s.apic_base);
  return v;
}

const std::array<uint32_t, 18> kFpuRegisterNames = [] {
  std::array<uint32_t, 18> names{};
  for (uint32_t i = 0; i < 16; ++i) names[i] = kHvRegXmm0 + i;
  names[16] = kHvRegFpControlStatus;
  names[17] = kHvRegXmmControlStatus;
  return names;
}();

accel::FpuState fpu_from_values(std::span<const HvRegisterValue, 18> v) {
  accel::FpuState fpu;
  for (size_t i = 0; i < 16; ++i) std::memcpy(fpu.xmm[i].data(), &v[i], 16);
  fpu.fcw = static_cast<uint16_t>(v[16].low & 0xffff);
  fpu.mxcsr = static_cast<uint32_t>(v[17].high & 0xffffffff);
  return fpu;
}

std::array<HvRegisterValue, 18> fpu_to_values(const accel::FpuState& fpu,
                                              std::span<const HvRegisterValue, 18> current) {
  std::array<HvRegisterValue, 18> v{};
  for (size_t i = 0; i < 16; ++i) std::memcpy(&v[i], fpu.xmm[i].data(), 16);
  v[16] = current[16];
  v[16].low = (v[16].low & ~uint64_t{0xffff}) | fpu.fcw;
  v[17] = current[17];
  v[17].high = (v[17].high & ~uint64_t{0xffffffff}) | fpu.mxcsr;
  return v;
}

accel::Regs regs_from_page(const HvVpRegisterPage& page) {
  accel::Regs regs;
  for (unsigned i = 0; i < 16; ++i) *accel_gpr(regs, i) = page.gp[kAccelToHardware[i]];
  regs.rip = page.rip;
  regs.rflags = page.rflags;
  return regs;
}

void regs_to_page(const accel::Regs& regs, HvVpRegisterPage& page) {
  accel::Regs copy = regs;
  for (unsigned i = 0; i < 16; ++i) page.gp[kAccelToHardware[i]] = *accel_gpr(copy, i);
  page.rip = regs.rip;
  page.rflags = regs.rflags;
  page.dirty |= kDirtyGeneral | kDirtyIp | kDirtyFlags;
}

uint64_t pending_exception(uint8_t vector, std::optional<uint32_t> error_code) {
  uint64_t value = kPendingInterruptionPending |
                   (uint64_t{kHvPendingException} << kPendingInterruptionTypeShift) |
                   (uint64_t{vector} << kPendingInterruptionVectorShift);
  if (error_code) {
    value |= kPendingInterruptionDeliverErrorCode |
             (uint64_t{*error_code} << kPendingInterruptionErrorCodeShift);
  }
  return value;
}

uint64_t* page_slot(HvVpRegisterPage& page, uint32_t name, uint32_t* dirty_class) {
  if (name >= kHvRegRax && name <= kHvRegR15) {
    *dirty_class = kDirtyGeneral;
    return &page.gp[name - kHvRegRax];
  }
  if (name == kHvRegRip) {
    *dirty_class = kDirtyIp;
    return &page.rip;
  }
  if (name == kHvRegRflags) {
    *dirty_class = kDirtyFlags;
    return &page.rflags;
  }
  return nullptr;
}

}  // namespace ferry::mshv

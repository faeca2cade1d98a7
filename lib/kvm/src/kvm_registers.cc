#include "kvm_registers.h"

#include <cstring>

namespace ferry::kvm {
namespace {

accel::Segment from_kvm(const kvm_segment& s) {
  return {.base = s.base,
          .limit = s.limit,
          .selector = s.selector,
          .type = s.type,
          .dpl = s.dpl,
          .present = s.present != 0,
          .s = s.s != 0,
          .db = s.db != 0,
          .l = s.l != 0,
          .g = s.g != 0,
          .avl = s.avl != 0,
          .unusable = s.unusable != 0};
}

kvm_segment to_kvm(const accel::Segment& s) {
  kvm_segment k{};
  k.base = s.base;
  k.limit = s.limit;
  k.selector = s.selector;
  k.type = s.type;
  k.dpl = s.dpl;
  k.present = s.present;
  k.s = s.s;
  k.db = s.db;
  k.l = s.l;
  k.g = s.g;
  k.avl = s.avl;
  k.unusable = s.unusable;
  return k;
}

}  // namespace

accel::Regs from_kvm(const kvm_regs& r) {
  return {r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rsp, r.rbp, r.r8,
          r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip, r.rflags};
}

kvm_regs to_kvm(const accel::Regs& r) {
  kvm_regs k{};
  k.rax = r.rax, k.rbx = r.rbx, k.rcx = r.rcx, k.rdx = r.rdx;
  k.rsi = r.rsi, k.rdi = r.rdi, k.rsp = r.rsp, k.rbp = r.rbp;
  k.r8 = r.r8, k.r9 = r.r9, k.r10 = r.r10, k.r11 = r.r11;
  k.r12 = r.r12, k.r13 = r.r13, k.r14 = r.r14, k.r15 = r.r15;
  k.rip = r.rip, k.rflags = r.rflags;
  return k;
}

accel::SpecialRegs from_kvm(const kvm_sregs& s) {
  accel::SpecialRegs out;
  out.cs = from_kvm(s.cs), out.ds = from_kvm(s.ds), out.es = from_kvm(s.es);
  out.fs = from_kvm(s.fs), out.gs = from_kvm(s.gs), out.ss = from_kvm(s.ss);
  out.tr = from_kvm(s.tr), out.ldt = from_kvm(s.ldt);
  out.gdt = {s.gdt.base, s.gdt.limit};
  out.idt = {s.idt.base, s.idt.limit};
  out.cr0 = s.cr0, out.cr2 = s.cr2, out.cr3 = s.cr3, out.cr4 = s.cr4, out.cr8 = s.cr8;
  out.efer = s.efer;
  out.apic_base = s.apic_base;
  return out;
}

kvm_sregs to_kvm(const accel::SpecialRegs& s, const kvm_sregs& current) {
  kvm_sregs k = current;
  k.cs = to_kvm(s.cs), k.ds = to_kvm(s.ds), k.es = to_kvm(s.es);
  k.fs = to_kvm(s.fs), k.gs = to_kvm(s.gs), k.ss = to_kvm(s.ss);
  k.tr = to_kvm(s.tr), k.ldt = to_kvm(s.ldt);
  k.gdt.base = s.gdt.base, k.gdt.limit = s.gdt.limit;
  k.idt.base = s.idt.base, k.idt.limit = s.idt.limit;
  k.cr0 = s.cr0, k.cr2 = s.cr2, k.cr3 = s.cr3, k.cr4 = s.cr4, k.cr8 = s.cr8;
  k.efer = s.efer;
  k.apic_base = s.apic_base;
  return k;
}

namespace {

// Offsets in the legacy region of the XSAVE area, and XSTATE_BV in its header.
constexpr size_t kFcw = 0, kMxcsr = 24, kXmm = 160, kXstateBv = 512;
constexpr size_t kX87StateEnd = kXmm;  // FCW..ST7: reset to init when x87 was in init state
constexpr uint64_t kXfeatureX87 = 1, kXfeatureSse = 2, kXfeatureAvx = 4;
constexpr uint16_t kFcwInit = 0x37f;

uint64_t xstate_bv(std::span<const uint8_t, 4096> area) {
  uint64_t bv;
  std::memcpy(&bv, &area[kXstateBv], sizeof bv);
  return bv;
}

}  // namespace

accel::FpuState fpu_from_xsave(std::span<const uint8_t, 4096> area) {
  const uint64_t bv = xstate_bv(area);
  accel::FpuState fpu;  // init values: zeroed XMM, FCW 0x37f, MXCSR 0x1f80
  if (bv & kXfeatureX87) std::memcpy(&fpu.fcw, &area[kFcw], sizeof fpu.fcw);
  // XSAVE stores MXCSR whenever SSE or AVX state is saved.
  if (bv & (kXfeatureSse | kXfeatureAvx)) std::memcpy(&fpu.mxcsr, &area[kMxcsr], sizeof fpu.mxcsr);
  if (bv & kXfeatureSse) {
    for (size_t i = 0; i < fpu.xmm.size(); ++i) {
      std::memcpy(fpu.xmm[i].data(), &area[kXmm + 16 * i], 16);
    }
  }
  return fpu;
}

void fpu_into_xsave(const accel::FpuState& fpu, std::span<uint8_t, 4096> area) {
  const uint64_t bv = xstate_bv(area);
  if (!(bv & kXfeatureX87)) {
    // Bytes of a component in its init state are not meaningful: start from the init state.
    std::memset(&area[0], 0, kX87StateEnd);
    std::memcpy(&area[kFcw], &kFcwInit, sizeof kFcwInit);
  }
  std::memcpy(&area[kFcw], &fpu.fcw, sizeof fpu.fcw);
  std::memcpy(&area[kMxcsr], &fpu.mxcsr, sizeof fpu.mxcsr);
  for (size_t i = 0; i < fpu.xmm.size(); ++i) {
    std::memcpy(&area[kXmm + 16 * i], fpu.xmm[i].data(), 16);
  }
  const uint64_t in_use = bv | kXfeatureX87 | kXfeatureSse;
  std::memcpy(&area[kXstateBv], &in_use, sizeof in_use);
}

}  // namespace ferry::kvm

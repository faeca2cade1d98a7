#include "ferry/accel/registers.h"

#include <fmt/format.h>

namespace ferry::accel {
namespace {

std::string format_segment(const char* name, const Segment& s) {
  return fmt::format(
      "{:<4}sel={:04x} base={:016x} limit={:08x} type={:x} s={:d} dpl={} p={:d} "
      "db={:d} l={:d} g={:d}{}\n",
      name, s.selector, s.base, s.limit, s.type, s.s, s.dpl, s.present, s.db, s.l, s.g,
      s.unusable ? " unusable" : "");
}

}  // namespace

std::string format_registers(const Regs& r, const SpecialRegs& s) {
  std::string out = fmt::format(
      "rax={:016x} rbx={:016x} rcx={:016x} rdx={:016x}\n"
      "rsi={:016x} rdi={:016x} rsp={:016x} rbp={:016x}\n"
      "r8 ={:016x} r9 ={:016x} r10={:016x} r11={:016x}\n"
      "r12={:016x} r13={:016x} r14={:016x} r15={:016x}\n"
      "rip={:016x} rflags={:016x}\n",
      r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rsp, r.rbp, r.r8, r.r9, r.r10, r.r11, r.r12,
      r.r13, r.r14, r.r15, r.rip, r.rflags);
  out += format_segment("cs", s.cs);
  out += format_segment("ds", s.ds);
  out += format_segment("es", s.es);
  out += format_segment("ss", s.ss);
  out += format_segment("fs", s.fs);
  out += format_segment("gs", s.gs);
  out += format_segment("tr", s.tr);
  out += fmt::format("gdt={:016x}/{:04x} idt={:016x}/{:04x}\n", s.gdt.base, s.gdt.limit, s.idt.base,
                     s.idt.limit);
  out += fmt::format("cr0={:016x} cr2={:016x} cr3={:016x} cr4={:016x} efer={:016x}", s.cr0, s.cr2,
                     s.cr3, s.cr4, s.efer);
  return out;
}

}  // namespace ferry::accel

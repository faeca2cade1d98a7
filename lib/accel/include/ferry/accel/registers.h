// Architectural x86-64 vCPU state in a backend-neutral form.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace ferry::accel {

struct Regs {
  uint64_t rax = 0, rbx = 0, rcx = 0, rdx = 0, rsi = 0, rdi = 0, rsp = 0, rbp = 0;
  uint64_t r8 = 0, r9 = 0, r10 = 0, r11 = 0, r12 = 0, r13 = 0, r14 = 0, r15 = 0;
  uint64_t rip = 0;
  uint64_t rflags = 0x2;  // bit 1 is reserved and always set
};

struct Segment {
  uint64_t base = 0;
  uint32_t limit = 0;
  uint16_t selector = 0;
  uint8_t type = 0;  // the 4-bit descriptor type
  uint8_t dpl = 0;
  bool present = false;
  bool s = false;  // code/data (true) or system (false)
  bool db = false;
  bool l = false;  // 64-bit code
  bool g = false;
  bool avl = false;
  bool unusable = false;
};

struct DescriptorTable {
  uint64_t base = 0;
  uint16_t limit = 0;
};

struct SpecialRegs {
  Segment cs, ds, es, fs, gs, ss, tr, ldt;
  DescriptorTable gdt, idt;
  uint64_t cr0 = 0, cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0;
  uint64_t efer = 0;
  uint64_t apic_base = 0;
};

struct FpuState {
  std::array<std::array<uint8_t, 16>, 16> xmm{};
  uint32_t mxcsr = 0x1f80;
  uint16_t fcw = 0x37f;
};

struct CpuidEntry {
  uint32_t function = 0;
  uint32_t index = 0;
  uint32_t flags = 0;  // kCpuidSignificantIndex when index selects a subleaf
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};
constexpr uint32_t kCpuidSignificantIndex = 1;

constexpr uint64_t kCr0Pe = 1ull << 0;
constexpr uint64_t kCr0Et = 1ull << 4;
constexpr uint64_t kCr0Ne = 1ull << 5;
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kCr4Osfxsr = 1ull << 9;
constexpr uint64_t kCr4Osxmmexcpt = 1ull << 10;
constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;

// A multi-line register dump for error messages ("rax=... rip=... cr0=...").
std::string format_registers(const Regs& regs, const SpecialRegs& sregs);

}  // namespace ferry::accel

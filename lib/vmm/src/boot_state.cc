#include "ferry/vmm/boot_state.h"

#include <array>
#include <cstring>

namespace ferry::vmm {
namespace {

// Flat descriptors: base 0, limit 4 GiB (G=1), present, DPL 0.
constexpr uint64_t kGdtCode64 = 0x00af9b000000ffff;  // L=1, execute/read, accessed
constexpr uint64_t kGdtCode32 = 0x00cf9b000000ffff;  // D=1
constexpr uint64_t kGdtData = 0x00cf93000000ffff;    // read/write, accessed
constexpr uint64_t kGdtTss = 0x0000890000000067;     // 32/64-bit TSS at 0, 104 bytes
constexpr uint64_t kTssLimit = 0x67;

constexpr uint64_t kCr0Nw = 1ull << 29, kCr0Cd = 1ull << 30;
constexpr uint64_t kPtePresent = 1, kPteWritable = 2, kPteHuge = 0x80;

accel::Segment flat_segment(uint16_t selector, uint8_t type, bool code64) {
  return {.base = 0,
          .limit = 0xffffffff,
          .selector = selector,
          .type = type,
          .dpl = 0,
          .present = true,
          .s = true,
          .db = !code64,
          .l = code64,
          .g = true};
}

accel::Segment real_segment(uint16_t selector, uint8_t type) {
  return {.base = uint64_t{selector} << 4,
          .limit = 0xffff,
          .selector = selector,
          .type = type,
          .present = true,
          .s = true};
}

Expected<void> write_u64s(const GuestMemory& memory, uint64_t gpa,
                          std::span<const uint64_t> values) {
  return memory.write(gpa, {reinterpret_cast<const uint8_t*>(values.data()), values.size_bytes()});
}

}  // namespace

Expected<void> write_boot_tables(const GuestMemory& memory, BootMode mode, bool gib_pages,
                                 GdtLayout layout) {
  if (mode == BootMode::kReal) return {};
  const std::array<uint64_t, 6> gdt =
      layout == GdtLayout::kLinux
          ? std::array<uint64_t, 6>{0, 0, kGdtCode64, kGdtData, kGdtTss, 0}
          : std::array<uint64_t, 6>{0, kGdtCode64, kGdtCode32, kGdtData, kGdtTss, 0};
  FERRY_TRY(write_u64s(memory, kBootGdtAddress, gdt));
  if (mode != BootMode::kLong) return {};

  std::array<uint64_t, 512> table{};
  table[0] = kBootPdptAddress | kPtePresent | kPteWritable;
  FERRY_TRY(write_u64s(memory, kBootPml4Address, table));

  table.fill(0);
  for (uint64_t gib = 0; gib < 4; ++gib) {
    table[gib] = (kBootPdAddress + gib * kPageSize) | kPtePresent | kPteWritable;
  }
  const uint64_t top = ram_top(memory.size());
  for (uint64_t gib = 4; gib_pages && gib < 512 && gib * kGiB < top; ++gib) {
    table[gib] = gib * kGiB | kPtePresent | kPteWritable | kPteHuge;
  }
  FERRY_TRY(write_u64s(memory, kBootPdptAddress, table));

  for (uint64_t gib = 0; gib < 4; ++gib) {
    for (uint64_t i = 0; i < 512; ++i) {
      table[i] = (gib * kGiB + i * 2 * kMiB) | kPtePresent | kPteWritable | kPteHuge;
    }
    FERRY_TRY(write_u64s(memory, kBootPdAddress + gib * kPageSize, table));
  }
  return {};
}

Expected<void> set_linux_entry_state(accel::Vcpu& vcpu, uint64_t entry, uint64_t boot_params,
                                     uint64_t stack_top) {
  FERRY_TRY(set_entry_state(vcpu, BootMode::kLong, entry, 0, 1));
  FERRY_ASSIGN(accel::SpecialRegs sregs, vcpu.get_special_regs());
  sregs.cs = flat_segment(kLinuxCodeSelector, 0xb, true);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss =
      flat_segment(kLinuxDataSelector, 0x3, false);
  FERRY_TRY(vcpu.set_special_regs(sregs));
  accel::Regs regs;
  regs.rsi = boot_params;
  regs.rsp = stack_top;
  regs.rip = entry;
  regs.rflags = 0x2;
  FERRY_TRY(vcpu.set_regs(regs));
  return {};
}

Expected<void> set_entry_state(accel::Vcpu& vcpu, BootMode mode, uint64_t entry, unsigned index,
                               unsigned count) {
  FERRY_ASSIGN(accel::SpecialRegs sregs, vcpu.get_special_regs());
  accel::Regs regs;
  regs.rdi = index;
  regs.rsi = count;
  regs.rflags = 0x2;
  // Reset leaves caching disabled (CD, NW); firmware enables it before handing over.
  sregs.cr0 &= ~(kCr0Cd | kCr0Nw);

  if (mode == BootMode::kReal) {
    if (entry >= 0x100000) {
      return fail(Errc::kInvalidArgument, "real-mode entry {:#x} is above 1 MiB", entry);
    }
    // A 64 KiB-aligned code segment, as firmware would use: 0xf0000 -> f000:0000, 0x7c00 ->
    // 0000:7c00.
    const auto code_segment = static_cast<uint16_t>((entry >> 4) & 0xf000);
    sregs.cs = real_segment(code_segment, 0xb);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = real_segment(0, 0x3);
    sregs.cr0 &= ~(accel::kCr0Pe | accel::kCr0Pg);
    sregs.efer = 0;
    regs.rip = entry - sregs.cs.base;
  } else {
    const bool long_mode = mode == BootMode::kLong;
    sregs.gdt = {kBootGdtAddress, 6 * 8 - 1};
    sregs.idt = {0, 0};
    sregs.cs = long_mode ? flat_segment(kCode64Selector, 0xb, true)
                         : flat_segment(kCode32Selector, 0xb, false);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_segment(kDataSelector, 0x3, false);
    sregs.tr = {
        .base = 0, .limit = kTssLimit, .selector = kTssSelector, .type = 0xb, .present = true};
    sregs.ldt = {.unusable = true};
    sregs.cr0 |= accel::kCr0Pe | accel::kCr0Et | accel::kCr0Ne;
    sregs.cr4 |= accel::kCr4Osfxsr | accel::kCr4Osxmmexcpt;
    if (long_mode) {
      sregs.cr3 = kBootPml4Address;
      sregs.cr4 |= accel::kCr4Pae;
      sregs.cr0 |= accel::kCr0Pg;
      sregs.efer |= accel::kEferLme | accel::kEferLma;
    }
    regs.rip = entry;
  }
  FERRY_TRY(vcpu.set_special_regs(sregs));
  FERRY_TRY(vcpu.set_regs(regs));
  return {};
}

}  // namespace ferry::vmm

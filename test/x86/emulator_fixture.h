// A fixture with a FakePlatform and CPU states for each mode: long mode maps a RAM page, two MMIO
// pages (not contiguous in guest-physical space) and the code page; see the constants.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "fake_platform.h"
#include "ferry/x86/emulator.h"
#include "page_tables.h"

namespace ferry::x86::test {

constexpr uint64_t kRamSize = 4ull << 20;
constexpr uint64_t kTablePool = 0x100000, kTablePoolEnd = 0x200000;
constexpr uint64_t kCodeLinear = 0x1000;   // identity-mapped RAM
constexpr uint64_t kRamLinear = 0x3ff000;  // -> kRamGpa
constexpr uint64_t kRamGpa = 0x300000;
constexpr uint64_t kMmioLinear = 0x400000;  // -> kMmioGpa, and the next page -> kMmio2Gpa
constexpr uint64_t kMmioGpa = 0xe0000000;
constexpr uint64_t kMmio2Gpa = 0xe0005000;
constexpr uint64_t kUnmappedLinear = 0x402000;

class EmulatorTest : public ::testing::Test {
 protected:
  EmulatorTest() : platform(kRamSize) {}

  /// Long mode (or 32-bit protected mode with paging) with the layout above.
  void enter_paged_mode(PagingFormat format) {
    tables = std::make_unique<PageTables>(platform.ram(), format, kTablePool, kTablePoolEnd);
    tables->map(kCodeLinear, kCodeLinear);
    tables->map(kRamLinear, kRamGpa);
    tables->map(kMmioLinear, kMmioGpa);
    tables->map(kMmioLinear + 0x1000, kMmio2Gpa);
    accel::SpecialRegs& s = state.sregs;
    const bool long_mode = format == PagingFormat::kLevel4 || format == PagingFormat::kLevel5;
    s.cs = flat(0xb, long_mode);
    s.ds = s.es = s.fs = s.gs = s.ss = flat(0x3, false);
    s.cr0 = accel::kCr0Pe | accel::kCr0Pg | kCr0Wp;
    s.cr3 = tables->root();
    s.cr4 = accel::kCr4Osfxsr;
    if (format != PagingFormat::k32Bit) s.cr4 |= accel::kCr4Pae;
    if (format == PagingFormat::kLevel5) s.cr4 |= kCr4La57;
    s.efer = long_mode ? accel::kEferLme | accel::kEferLma | kEferNxe : 0;
    state.regs.rip = kCodeLinear;
  }

  void enter_real_mode() {
    accel::SpecialRegs& s = state.sregs;
    s.cs = real(0);
    s.ds = s.es = s.fs = s.gs = s.ss = real(0);
    s.cr0 = 0;
    s.cr4 = 0;
    s.efer = 0;
    state.regs.rip = kCodeLinear;
  }

  static accel::Segment flat(uint8_t type, bool code64) {
    return {.base = 0,
            .limit = 0xffffffff,
            .selector = 8,
            .type = type,
            .dpl = 0,
            .present = true,
            .s = true,
            .db = !code64,
            .l = code64,
            .g = true};
  }

  static accel::Segment real(uint16_t selector) {
    return {.base = uint64_t{selector} << 4,
            .limit = 0xffff,
            .selector = selector,
            .type = 0x3,
            .present = true,
            .s = true};
  }

  Expected<Outcome> run(std::vector<uint8_t> bytes, EmulatorOptions options = {}) {
    Emulator emulator(platform, options);
    return emulator.emulate(state, bytes);
  }

  /// Runs and expects completion; returns the MMIO log.
  std::vector<MmioAccess> run_done(std::vector<uint8_t> bytes) {
    platform.clear_mmio();
    const uint64_t rip = state.regs.rip;
    auto outcome = run(bytes);
    EXPECT_TRUE(outcome.has_value()) << (outcome ? "" : outcome.error().message());
    if (outcome) {
      EXPECT_EQ(outcome->kind, Outcome::Kind::kDone) << describe(outcome->fault);
      EXPECT_EQ(state.regs.rip, rip + bytes.size());
    }
    return platform.mmio();
  }

  /// Runs and expects a fault; the registers must not change.
  Fault run_fault(std::vector<uint8_t> bytes) {
    const accel::Regs before = state.regs;
    auto outcome = run(bytes);
    EXPECT_TRUE(outcome.has_value()) << (outcome ? "" : outcome.error().message());
    if (!outcome) return {};
    EXPECT_EQ(outcome->kind, Outcome::Kind::kFault);
    EXPECT_EQ(state.regs.rip, before.rip);
    EXPECT_EQ(state.regs.rax, before.rax);
    EXPECT_EQ(state.regs.rflags, before.rflags);
    return outcome->fault;
  }

  FakePlatform platform;
  CpuState state;
  std::unique_ptr<PageTables> tables;
};

class LongModeTest : public EmulatorTest {
 protected:
  void SetUp() override { enter_paged_mode(PagingFormat::kLevel4); }
};

inline MmioAccess write_of(uint64_t gpa, std::vector<uint8_t> data) {
  return {true, gpa, std::move(data)};
}

inline MmioAccess read_of(uint64_t gpa, unsigned size) {
  std::vector<uint8_t> data(size);
  for (unsigned i = 0; i < size; ++i) data[i] = mmio_byte(gpa + i);
  return {false, gpa, data};
}

}  // namespace ferry::x86::test

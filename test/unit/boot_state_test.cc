#include "ferry/vmm/boot_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "ferry/vmm/cpuid.h"
#include "ferry/vmm/memory_layout.h"
#include "support/mock_accel.h"

namespace ferry::vmm {
namespace {

using test::MockVcpu;
using ::testing::_;
using ::testing::DoAll;
using ::testing::Return;
using ::testing::SaveArg;
using ::testing::StrictMock;

uint64_t read_u64(const GuestMemory& memory, uint64_t gpa) {
  uint64_t value;
  std::memcpy(&value, memory.host_span(gpa, 8), 8);
  return value;
}

TEST(BootTables, LongModeIdentityMapsTheFirst4GiBWith2MiBPages) {
  auto memory = *GuestMemory::allocate(64 * kMiB);
  ASSERT_TRUE(write_boot_tables(memory, BootMode::kLong, false));
  EXPECT_EQ(read_u64(memory, kBootGdtAddress + 8), 0x00af9b000000ffffu);  // 64-bit code
  EXPECT_EQ(read_u64(memory, kBootPml4Address), kBootPdptAddress | 3);
  for (uint64_t gib = 0; gib < 4; ++gib) {
    EXPECT_EQ(read_u64(memory, kBootPdptAddress + 8 * gib), (kBootPdAddress + gib * 4096) | 3);
  }
  EXPECT_EQ(read_u64(memory, kBootPdptAddress + 8 * 4), 0u);  // nothing above 4 GiB
  // The 2 MiB page holding the LAPIC (0xfee00000) maps to itself.
  const uint64_t lapic_pde = kBootPdAddress + 3 * 4096 + ((0xfee00000 >> 21) & 511) * 8;
  EXPECT_EQ(read_u64(memory, lapic_pde), 0xfee00000u | 0x83);
}

TEST(BootTables, LinuxGdtHas64BitCodeAt0x10AndDataAt0x18) {
  auto memory = *GuestMemory::allocate(64 * kMiB);
  ASSERT_TRUE(write_boot_tables(memory, BootMode::kLong, false, GdtLayout::kLinux));
  EXPECT_EQ(read_u64(memory, kBootGdtAddress + 8), 0u);
  EXPECT_EQ(read_u64(memory, kBootGdtAddress + kLinuxCodeSelector), 0x00af9b000000ffffu);
  EXPECT_EQ(read_u64(memory, kBootGdtAddress + kLinuxDataSelector), 0x00cf93000000ffffu);
  EXPECT_EQ(read_u64(memory, kBootPml4Address), kBootPdptAddress | 3);  // the same page tables
}

TEST(BootTables, RamAbove4GiBUses1GiBPagesWhenTheCpuHasThem) {
  auto memory = *GuestMemory::allocate(5 * kGiB);  // 2 GiB above 4 GiB: ends at 6 GiB
  ASSERT_TRUE(write_boot_tables(memory, BootMode::kLong, true));
  EXPECT_EQ(read_u64(memory, kBootPdptAddress + 8 * 4), 4 * kGiB | 0x83);
  EXPECT_EQ(read_u64(memory, kBootPdptAddress + 8 * 5), 5 * kGiB | 0x83);
  EXPECT_EQ(read_u64(memory, kBootPdptAddress + 8 * 6), 0u);
}

TEST(BootTables, RealModeWritesNothing) {
  auto memory = *GuestMemory::allocate(4 * kMiB);
  ASSERT_TRUE(write_boot_tables(memory, BootMode::kReal, true));
  EXPECT_EQ(read_u64(memory, kBootGdtAddress + 8), 0u);
}

class EntryState : public ::testing::Test {
 protected:
  void expect_state(accel::Regs& regs, accel::SpecialRegs& sregs) {
    accel::SpecialRegs reset;
    reset.cr0 = 0x60000010;  // caching disabled, as after reset
    reset.apic_base = 0xfee00900;
    EXPECT_CALL(vcpu_, get_special_regs()).WillOnce(Return(reset));
    EXPECT_CALL(vcpu_, set_special_regs(_))
        .WillOnce(DoAll(SaveArg<0>(&sregs), Return(Expected<void>{})));
    EXPECT_CALL(vcpu_, set_regs(_)).WillOnce(DoAll(SaveArg<0>(&regs), Return(Expected<void>{})));
  }
  StrictMock<MockVcpu> vcpu_;
};

TEST_F(EntryState, LongModeHasPagingFlatSegmentsAndTheBootProtocolRegisters) {
  accel::Regs regs;
  accel::SpecialRegs sregs;
  expect_state(regs, sregs);
  ASSERT_TRUE(set_entry_state(vcpu_, BootMode::kLong, 0x100040, 2, 4));
  EXPECT_EQ(regs.rip, 0x100040u);
  EXPECT_EQ(regs.rdi, 2u);
  EXPECT_EQ(regs.rsi, 4u);
  EXPECT_EQ(regs.rflags, 2u);
  EXPECT_EQ(sregs.cs.selector, kCode64Selector);
  EXPECT_TRUE(sregs.cs.l);
  EXPECT_FALSE(sregs.cs.db);
  EXPECT_EQ(sregs.ss.selector, kDataSelector);
  EXPECT_EQ(sregs.cr3, kBootPml4Address);
  EXPECT_EQ(sregs.cr0, 0x80000031u);        // PG, NE, ET, PE; CD and NW cleared
  EXPECT_EQ(sregs.cr4, 0x620u);             // PAE, OSFXSR, OSXMMEXCPT
  EXPECT_EQ(sregs.efer, 0x500u);            // LME, LMA
  EXPECT_EQ(sregs.apic_base, 0xfee00900u);  // untouched
  EXPECT_EQ(sregs.tr.type, 0xb);
}

TEST_F(EntryState, LinuxStartsInLongModeOnItsBootSelectorsWithBootParamsInRsi) {
  accel::SpecialRegs reset;
  reset.cr0 = 0x60000010;
  accel::SpecialRegs sregs;
  accel::Regs regs;
  accel::SpecialRegs first;
  EXPECT_CALL(vcpu_, get_special_regs()).WillRepeatedly(::testing::ReturnPointee(&first));
  first = reset;
  EXPECT_CALL(vcpu_, set_special_regs(_))
      .WillRepeatedly(DoAll(SaveArg<0>(&sregs), SaveArg<0>(&first), Return(Expected<void>{})));
  EXPECT_CALL(vcpu_, set_regs(_))
      .WillRepeatedly(DoAll(SaveArg<0>(&regs), Return(Expected<void>{})));
  ASSERT_TRUE(set_linux_entry_state(vcpu_, 0x1000200, 0x8000, 0xb000));
  EXPECT_EQ(regs.rip, 0x1000200u);
  EXPECT_EQ(regs.rsi, 0x8000u);
  EXPECT_EQ(regs.rsp, 0xb000u);
  EXPECT_EQ(regs.rdi, 0u);
  EXPECT_EQ(regs.rflags, 2u);  // interrupts off
  EXPECT_EQ(sregs.cs.selector, 0x10);
  EXPECT_TRUE(sregs.cs.l);
  for (const accel::Segment* s : {&sregs.ds, &sregs.es, &sregs.ss}) {
    EXPECT_EQ(s->selector, 0x18);
    EXPECT_EQ(s->base, 0u);
    EXPECT_EQ(s->limit, 0xffffffffu);
  }
  EXPECT_EQ(sregs.cr3, kBootPml4Address);
  EXPECT_EQ(sregs.efer, 0x500u);  // LME, LMA
  EXPECT_EQ(sregs.cr0 & accel::kCr0Pg, accel::kCr0Pg);
}

TEST_F(EntryState, ProtectedModeHasNoPaging) {
  accel::Regs regs;
  accel::SpecialRegs sregs;
  expect_state(regs, sregs);
  ASSERT_TRUE(set_entry_state(vcpu_, BootMode::kProtected, 0x100000, 0, 1));
  EXPECT_EQ(sregs.cs.selector, kCode32Selector);
  EXPECT_TRUE(sregs.cs.db);
  EXPECT_EQ(sregs.cr0 & accel::kCr0Pg, 0u);
  EXPECT_EQ(sregs.efer, 0u);
  EXPECT_EQ(sregs.gdt.base, kBootGdtAddress);
}

TEST_F(EntryState, RealModePicksA64KiBAlignedCodeSegment) {
  accel::Regs regs;
  accel::SpecialRegs sregs;
  expect_state(regs, sregs);
  ASSERT_TRUE(set_entry_state(vcpu_, BootMode::kReal, 0xf0010, 0, 1));
  EXPECT_EQ(sregs.cs.selector, 0xf000);
  EXPECT_EQ(sregs.cs.base, 0xf0000u);
  EXPECT_EQ(regs.rip, 0x10u);
  EXPECT_EQ(sregs.ds.base, 0u);
  EXPECT_EQ(sregs.cr0 & accel::kCr0Pe, 0u);
}

TEST(MemoryLayout, CarvesTheLegacyHoleAndMovesRamAbove3GiBTo4GiB) {
  auto small = ram_ranges(64 * kMiB);
  ASSERT_EQ(small.size(), 2u);
  EXPECT_EQ(small[0].gpa, 0u);
  EXPECT_EQ(small[0].size, 0xa0000u);
  EXPECT_EQ(small[1].gpa, 0xc0000u);
  EXPECT_EQ(small[1].gpa + small[1].size, 64 * kMiB);
  auto big = ram_ranges(5 * kGiB);
  ASSERT_EQ(big.size(), 3u);
  EXPECT_EQ(big[1].gpa + big[1].size, 3 * kGiB);
  EXPECT_EQ(big[2].gpa, 4 * kGiB);
  EXPECT_EQ(big[2].size, 2 * kGiB);
  EXPECT_EQ(big[2].host_offset, 3 * kGiB);
  EXPECT_EQ(ram_top(5 * kGiB), 6 * kGiB);
}

TEST(Cpuid, EachVcpuSeesItsIndexAsApicIdAndAHypervisor) {
  std::vector<accel::CpuidEntry> host = {{1, 0, 0, 0x806f8, 0x00ff0800, 0x1, 0},
                                         {0xb, 0, 1, 0, 0, 0, 0xff},
                                         {0xb, 1, 1, 0, 0, 0, 0xff},
                                         {0x80000001, 0, 0, 0, 0, 0, 1u << 26}};
  auto table = vcpu_cpuid(host, 5);
  EXPECT_EQ(table[0].ebx, 0x05ff0800u);
  EXPECT_EQ(table[0].ecx, 0x80000001u);
  EXPECT_EQ(table[1].edx, 5u);
  EXPECT_EQ(table[2].edx, 5u);
  EXPECT_TRUE(has_gib_pages(table));
  table.pop_back();
  EXPECT_FALSE(has_gib_pages(table));
}

}  // namespace
}  // namespace ferry::vmm

// The page walker in each paging format, with permissions and accessed/dirty updates.
#include "emulator_fixture.h"

namespace ferry::x86::test {
namespace {

class PageWalkTest : public EmulatorTest {
 protected:
  Translation translate(uint64_t linear, AccessIntent intent = {}) {
    PageWalker walker(platform);
    auto t = walker.translate(state, linear, intent);
    EXPECT_TRUE(t.has_value()) << (t ? "" : t.error().message());
    return t ? *t : Translation{};
  }
};

TEST_F(PageWalkTest, EachFormatTranslatesAndFaults) {
  for (PagingFormat format :
       {PagingFormat::k32Bit, PagingFormat::kPae, PagingFormat::kLevel4, PagingFormat::kLevel5}) {
    SCOPED_TRACE(static_cast<int>(format));
    std::fill(platform.ram().begin() + kTablePool, platform.ram().begin() + kTablePoolEnd, 0);
    enter_paged_mode(format);
    Translation t = translate(kMmioLinear + 0x123);
    EXPECT_TRUE(t.ok);
    EXPECT_EQ(t.gpa, kMmioGpa + 0x123);
    t = translate(kMmioLinear + 0x1456);
    EXPECT_EQ(t.gpa, kMmio2Gpa + 0x456);
    t = translate(kUnmappedLinear, {.write = true});
    EXPECT_FALSE(t.ok);
    EXPECT_EQ(t.error_code, kPfWrite);
  }
}

TEST_F(PageWalkTest, FiveLevelUsesBitsAbove47) {
  enter_paged_mode(PagingFormat::kLevel5);
  const uint64_t high = 0x00ff800000400000;  // canonical with 57 bits, not with 48
  tables->map(high, 0x7000);
  EXPECT_EQ(translate(high + 5).gpa, 0x7005u);
  EXPECT_FALSE(translate(high & 0x0000ffffffffffff).ok);
  state.regs.rax = high + 0x10;
  state.regs.rbx = 0x99;
  run_done({0x88, 0x18});
  EXPECT_EQ(platform.ram()[0x7010], 0x99);
}

TEST_F(PageWalkTest, LargePagesIn32BitAndLongMode) {
  enter_paged_mode(PagingFormat::k32Bit);
  state.sregs.cr4 |= kCr4Pse;
  // A 4 MiB page at linear 0x800000 -> physical 0x1_0000_0000 via PSE-36 (bits 39:32 in 20:13).
  const uint64_t pde = tables->root() + (0x800000 >> 22) * 4;
  const uint32_t entry = (1u << 13) | kPtePresent | kPteWritable | kPteLarge;
  platform.ram()[pde] = static_cast<uint8_t>(entry);
  platform.ram()[pde + 1] = static_cast<uint8_t>(entry >> 8);
  platform.ram()[pde + 2] = static_cast<uint8_t>(entry >> 16);
  platform.ram()[pde + 3] = static_cast<uint8_t>(entry >> 24);
  EXPECT_EQ(translate(0x812345).gpa, 0x100012345u);
  // Without PSE the PS bit is ignored: the entry points to a page table at 0x2000 (empty).
  state.sregs.cr4 &= ~kCr4Pse;
  EXPECT_FALSE(translate(0x812345).ok);

  enter_paged_mode(PagingFormat::kLevel4);
  const uint64_t pdpte = tables->entry_address(kMmioLinear, 3);
  platform.poke64(pdpte, 0x40000000 | kPtePresent | kPteWritable | kPteLarge);  // 1 GiB page
  EXPECT_EQ(translate(kMmioLinear + 7).gpa, 0x40000000u + kMmioLinear + 7);
  platform.poke64(pdpte, 0x40000000 | (1ull << 13) | kPtePresent | kPteLarge);  // reserved bit
  EXPECT_EQ(translate(kMmioLinear).error_code, kPfPresent | kPfReserved);
}

TEST_F(PageWalkTest, PaeNeedsPresentPdpte) {
  enter_paged_mode(PagingFormat::kPae);
  EXPECT_FALSE(translate(0xc0000000).ok);  // PDPTE 3 was never filled
}

TEST_F(PageWalkTest, AccessedAndDirtyBits) {
  enter_paged_mode(PagingFormat::kLevel4);
  const uint64_t pte = tables->entry_address(kMmioLinear, 1);
  translate(kMmioLinear);
  EXPECT_EQ(platform.peek64(pte) & 0x60, 0x20u);
  EXPECT_EQ(platform.peek64(tables->entry_address(kMmioLinear, 4)) & 0x20, 0x20u);
  translate(kMmioLinear, {.write = true});
  EXPECT_EQ(platform.peek64(pte) & 0x60, 0x60u);
}

TEST_F(PageWalkTest, NoExecuteSmepAndSmap) {
  enter_paged_mode(PagingFormat::kLevel4);
  tables->map(kMmioLinear, kMmioGpa, kPtePresent | kPteNoExecute);
  Translation t = translate(kMmioLinear, {.fetch = true});
  EXPECT_FALSE(t.ok);
  EXPECT_EQ(t.error_code, kPfPresent | kPfFetch);

  tables->map(kMmioLinear, kMmioGpa, kPtePresent | kPteUser);
  state.sregs.cr4 |= kCr4Smep | kCr4Smap;
  EXPECT_FALSE(translate(kMmioLinear, {.fetch = true}).ok);  // SMEP: no supervisor fetch
  EXPECT_FALSE(translate(kMmioLinear).ok);                   // SMAP: no supervisor data access
  state.regs.rflags |= kRflagsAc;
  EXPECT_TRUE(translate(kMmioLinear).ok);  // ...unless RFLAGS.AC
  EXPECT_TRUE(translate(kMmioLinear, {.user = true}).ok);
}

TEST_F(PageWalkTest, TablesOutsideRamAreAnError) {
  enter_paged_mode(PagingFormat::kLevel4);
  state.sregs.cr3 = 0xf0000000;
  PageWalker walker(platform);
  auto t = walker.translate(state, kMmioLinear, {});
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("0xf0000000"), std::string::npos) << t.error().message();
}

TEST_F(PageWalkTest, PagingOffIsIdentity) {
  enter_real_mode();
  EXPECT_EQ(translate(0x12345).gpa, 0x12345u);
}

}  // namespace
}  // namespace ferry::x86::test

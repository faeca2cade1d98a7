// What the fake hypervisor answers for HvCallTranslateVirtualAddress and does with an exception
// the VMM leaves in HV_REGISTER_PENDING_INTERRUPTION. The MMIO tests rely on both; a fake that
// translated everything or delivered anything would prove nothing. Driven with raw ioctls and the
// ABI's literal values.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "fake_mshv_driver.h"
#include "ferry/base/mapping.h"
#include "ferry/base/unique_fd.h"

namespace ferry::test {
namespace {

using namespace mshv;
using ::testing::ElementsAre;
using ::testing::Pair;

constexpr uint64_t kRamSize = 1 << 20;
constexpr uint64_t kRom = 0x200000;  // one read-only page
constexpr uint64_t kPml4 = 0x1000, kPdpt = 0x2000, kPd = 0x3000, kPt = 0x4000;
constexpr uint64_t kP = 1, kW = 2, kU = 4, kA = 0x20, kD = 0x40, kNx = 1ull << 63;
// Translation flags (HV_TRANSLATE_GVA_*).
constexpr uint64_t kRead = 0x1, kWrite = 0x2, kExecute = 0x4, kSetBits = 0x10, kUser = 0x80;

class FakeTranslationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    device_ = UniqueFd(fake_.open_device("/dev/mshv"));
    MshvCreatePartition create{kPtLapic | kPtX2apic | kPtGpaSuperPages, kPtIsolationNone};
    partition_ = UniqueFd(fake_.ioctl(device_.get(), kMshvCreatePartition, &create));
    ASSERT_TRUE(partition_.valid());
    ASSERT_EQ(fake_.ioctl(partition_.get(), kMshvInitializePartition, nullptr), 0);
    MshvCreateVp vp{0};
    vp_ = UniqueFd(fake_.ioctl(partition_.get(), kMshvCreateVp, &vp));
    ASSERT_TRUE(vp_.valid());
    auto ram = Mapping::anonymous(kRamSize);
    auto rom = Mapping::anonymous(kHvPageSize);
    ASSERT_TRUE(ram && rom);
    ram_ = std::move(*ram);
    rom_ = std::move(*rom);
    MshvUserMemRegion region{
        kRamSize, 0, reinterpret_cast<uint64_t>(ram_.data()), kMemWritable | kMemExecutable, {}};
    ASSERT_EQ(fake_.ioctl(partition_.get(), kMshvSetGuestMemory, &region), 0);
    region = {kHvPageSize,
              kRom / kHvPageSize,
              reinterpret_cast<uint64_t>(rom_.data()),
              kMemExecutable,
              {}};
    ASSERT_EQ(fake_.ioctl(partition_.get(), kMshvSetGuestMemory, &region), 0);
    // 4-level tables for GVAs 0x10000-0x15fff, all through user-accessible upper levels.
    entry(kPml4, 0) = kPdpt | kP | kW | kU;
    entry(kPdpt, 0) = kPd | kP | kW | kU;
    entry(kPd, 0) = kPt | kP | kW | kU;
    entry(kPt, 0x10) = 0x10000 | kP | kW;        // supervisor, writable
    entry(kPt, 0x11) = 0x11000 | kP;             // supervisor, read-only
    entry(kPt, 0x12) = kRom | kP | kW | kU;      // writable in the tables, read-only RAM
    entry(kPt, 0x13) = 0x300000 | kP | kW | kU;  // not RAM: MMIO
    entry(kPt, 0x15) = 0x15000 | kP | kNx;       // not executable
    set(kHvRegCr0, 0x80000011);                  // PE, ET, PG
    set(kHvRegCr3, kPml4);
    set(kHvRegCr4, 0x20);    // PAE
    set(kHvRegEfer, 0xd00);  // LME, LMA, NXE
  }

  uint64_t& entry(uint64_t table, unsigned index) {
    return *reinterpret_cast<uint64_t*>(ram_.data() + table + 8 * index);
  }
  void set(uint32_t name, uint64_t value) { fake_.set_vp_register(0, name, {value, 0}); }

  // The result code and the GPA (page number times the page size).
  std::pair<uint32_t, uint64_t> translate(uint64_t gva, uint64_t flags) {
    HvInputTranslateVirtualAddress in{};
    in.vp_index = 0;
    in.control_flags = flags;
    in.gva_page = gva / kHvPageSize;
    HvOutputTranslateVirtualAddress out{};
    MshvRootHvcall a{};
    a.code = kHvCallTranslateVirtualAddress;
    a.in_sz = sizeof in;
    a.out_sz = sizeof out;
    a.in_ptr = reinterpret_cast<uint64_t>(&in);
    a.out_ptr = reinterpret_cast<uint64_t>(&out);
    EXPECT_EQ(fake_.ioctl(vp_.get(), kMshvRootHvcall, &a), 0);
    return {out.result_code, out.gpa_page * kHvPageSize};
  }

  uint32_t run() {
    MshvRunVp message{};
    EXPECT_EQ(fake_.ioctl(vp_.get(), kMshvRunVp, &message), 0);
    HvMessageHeader header;
    std::memcpy(&header, message.msg_buf, sizeof header);
    return header.message_type;
  }

  FakeMshvDriver fake_;
  UniqueFd device_, partition_, vp_;
  Mapping ram_, rom_;
};

TEST_F(FakeTranslationTest, ResultCodesOfTheWalk) {
  EXPECT_THAT(translate(0x10123, kRead), Pair(kTranslateSuccess, 0x10000u));
  EXPECT_THAT(translate(0x14000, kRead), Pair(kTranslatePageNotPresent, 0u));
  EXPECT_THAT(translate(0x11000, kWrite), Pair(kTranslateSuccess, 0x11000u))
      << "a supervisor write to a read-only page passes while CR0.WP is clear";
  set(kHvRegCr0, 0x80010011);  // WP
  EXPECT_THAT(translate(0x11000, kWrite), Pair(kTranslatePrivilegeViolation, 0u));
  EXPECT_THAT(translate(0x10000, kRead | kUser), Pair(kTranslatePrivilegeViolation, 0u))
      << "USER_ACCESS on a supervisor page";
  EXPECT_THAT(translate(0x15000, kExecute), Pair(kTranslatePrivilegeViolation, 0u));
  EXPECT_THAT(translate(0x15000, kRead), Pair(kTranslateSuccess, 0x15000u));
  EXPECT_THAT(translate(0x12000, kWrite), Pair(kTranslateGpaNoWriteAccess, kRom));
  EXPECT_THAT(translate(0x12000, kRead), Pair(kTranslateSuccess, kRom));
  EXPECT_THAT(translate(0x13000, kWrite), Pair(kTranslateGpaUnmapped, 0x300000u));
  set(kHvRegEfer, 0x500);  // no NXE: the NX bit is reserved
  EXPECT_THAT(translate(0x15000, kRead), Pair(kTranslateInvalidPageTableFlags, 0u));
  set(kHvRegCr0, 0x11);  // no paging
  EXPECT_THAT(translate(0x300000, kRead), Pair(kTranslateGpaUnmapped, 0x300000u));
}

TEST_F(FakeTranslationTest, SetPageTableBitsMarksTheWalkAsAnAccessWould) {
  translate(0x10000, kWrite);
  EXPECT_EQ(entry(kPt, 0x10) & (kA | kD), 0u) << "not without SET_PAGE_TABLE_BITS";
  translate(0x10000, kRead | kSetBits);
  EXPECT_EQ(entry(kPt, 0x10) & (kA | kD), kA);
  EXPECT_EQ(entry(kPml4, 0) & kA, kA);
  translate(0x10000, kWrite | kSetBits);
  EXPECT_EQ(entry(kPt, 0x10) & (kA | kD), kA | kD);
  EXPECT_EQ(entry(kPd, 0) & kD, 0u) << "only the leaf is dirty";
}

TEST_F(FakeTranslationTest, APendingExceptionIsCheckedAndDeliveredAtDispatch) {
  set(kHvRegRip, 0x10000);
  set(kHvRegCr2, 0x4242000);
  // #GP in protected mode without its error code: VM entry refuses it.
  set(kHvRegPendingInterruption, 0x1 | (3u << 1) | (13u << 16));
  EXPECT_EQ(run(), kHvMessageInvalidVpRegisterValue);
  EXPECT_TRUE(fake_.exceptions(0).empty());
  // #PF with error code 2 (a write): delivered, recorded, cleared; the VP then halts as told.
  set(kHvRegPendingInterruption, 0x1 | (3u << 1) | (1u << 4) | (14u << 16) | (2ull << 32));
  fake_.play(0, FakeGuestEvent::halt());
  EXPECT_EQ(run(), kHvMessageX64Halt);
  EXPECT_THAT(fake_.exceptions(0), ElementsAre(FakeException{14, 2u, 0x4242000, 0x10000}));
  EXPECT_EQ(fake_.vp_register(0, kHvRegPendingInterruption).low, 0u);
}

}  // namespace
}  // namespace ferry::test

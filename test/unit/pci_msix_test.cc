#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "ferry/pci/config_regs.h"
#include "ferry/pci/msix_table.h"
#include "support/mock_accel.h"

namespace ferry::pci {
namespace {

using test::MsiRouteIs;
using test::StrictMockVm;
using ::testing::_;
using ::testing::DoAll;
using ::testing::ElementsAre;
using ::testing::InSequence;
using ::testing::Return;
using ::testing::SaveArg;
using ::testing::StrictMock;

uint64_t drain(int fd) {
  uint64_t count = 0;
  return ::read(fd, &count, sizeof count) == sizeof count ? count : 0;
}

class MsixTableTest : public ::testing::Test {
 protected:
  // Programs entry `i` to send `vector` to the LAPIC of APIC ID 0.
  void program(unsigned i, uint32_t vector) {
    table_.write_table(i * 16 + kMsixEntryAddressLo, 8, 0xfee00000);
    table_.write_table(i * 16 + kMsixEntryData, 4, vector);
  }
  void unmask(unsigned i) { table_.write_table(i * 16 + kMsixEntryControl, 4, 0); }
  void mask(unsigned i) { table_.write_table(i * 16 + kMsixEntryControl, 4, 1); }
  // Expects a vector to go live: commit its route, then assign its irqfd (its fd in *irqfd).
  void expect_live(uint32_t gsi, uint32_t data, int* irqfd) {
    InSequence order;
    EXPECT_CALL(vm_, set_msi_routes(ElementsAre(MsiRouteIs(gsi, 0xfee00000u, data))))
        .WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(vm_, register_irqfd(_, gsi, std::optional<int>()))
        .WillOnce(DoAll(SaveArg<0>(irqfd), Return(Expected<void>{})));
  }
  void expect_teardown(int irqfd, uint32_t gsi) {
    InSequence order;  // injection stops before the route disappears
    EXPECT_CALL(vm_, unregister_irqfd(irqfd, gsi)).WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(vm_, set_msi_routes(ElementsAre())).WillOnce(Return(Expected<void>{}));
  }

  StrictMockVm vm_;
  irq::MsiRouteTable routes_{vm_};
  MsixTable table_{"test", 8, routes_};
};

TEST_F(MsixTableTest, EntriesStartMaskedAndNothingPending) {
  EXPECT_EQ(table_.table_bytes(), 128u);
  EXPECT_EQ(table_.pba_bytes(), 8u);
  for (unsigned i = 0; i < 8; ++i) {
    EXPECT_EQ(table_.read_table(i * 16 + kMsixEntryControl, 4), 1u);
    EXPECT_EQ(table_.read_table(i * 16, 8), 0u);
  }
  EXPECT_EQ(table_.read_pba(0, 8), 0u);
}

TEST_F(MsixTableTest, EntriesHoldAddressAndDataAndOnlyTheMaskBit) {
  table_.write_table(0x10, 8, 0x00000001fee01003);  // address bits 1:0 read as zero
  table_.write_table(0x18, 8, 0xffffffff00000041);
  EXPECT_EQ(table_.read_table(0x10, 4), 0xfee01000u);
  EXPECT_EQ(table_.read_table(0x14, 4), 1u);
  EXPECT_EQ(table_.read_table(0x18, 4), 0x41u);
  EXPECT_EQ(table_.read_table(0x1c, 4), 1u);
  EXPECT_EQ(table_.read_table(0x18, 8), 0x0000000100000041u);
}

TEST_F(MsixTableTest, MisalignedOddSizedAndOutOfRangeAccessesAreRefused) {
  table_.write_table(0x2, 4, 0xffffffff);
  table_.write_table(0x4, 8, 0xffffffff);  // a qword must be qword aligned
  table_.write_table(0x0, 2, 0xffff);
  table_.write_table(0x80, 4, 0);  // one past the last entry
  table_.write_table(0xfffffffffffffff0, 8, 0);
  EXPECT_EQ(table_.read_table(0x0, 8), 0u);
  EXPECT_EQ(table_.read_table(0x2, 4), ~uint64_t{0});
  EXPECT_EQ(table_.read_table(0x0, 1), ~uint64_t{0});
  EXPECT_EQ(table_.read_table(0x80, 4), ~uint64_t{0});
  EXPECT_EQ(table_.read_pba(0x8, 8), ~uint64_t{0});
  EXPECT_EQ(table_.read_pba(0x2, 4), ~uint64_t{0});
}

TEST_F(MsixTableTest, NothingIsSentOrPendingWhileDisabled) {
  program(0, 0x40);
  unmask(0);  // MSI-X is off: the vector stays down
  EXPECT_EQ(table_.raise(0), MsixTable::Raised::kDropped);
  EXPECT_EQ(table_.raise(8), MsixTable::Raised::kDropped);
  int irqfd = -1;
  expect_live(24, 0x40, &irqfd);
  table_.set_control(true, false);
  EXPECT_EQ(table_.raise(8), MsixTable::Raised::kDropped);
  EXPECT_EQ(table_.raise(~0u), MsixTable::Raised::kDropped);
  EXPECT_EQ(table_.read_pba(0, 8), 0u);
  expect_teardown(irqfd, 24);
}

TEST_F(MsixTableTest, AVectorGoesLiveAtUnmaskRouteFirstThenIrqfdAndSignalsWithoutIoctls) {
  table_.set_control(true, false);  // every entry masked: nothing to route
  program(3, 0x40);
  int irqfd = -1;
  expect_live(24, 0x40, &irqfd);
  unmask(3);
  EXPECT_EQ(table_.raise(3), MsixTable::Raised::kSent);
  EXPECT_EQ(table_.raise(3), MsixTable::Raised::kSent);
  EXPECT_EQ(drain(irqfd), 2u);
  EXPECT_EQ(table_.sent(), 2u);
  expect_teardown(irqfd, 24);
}

TEST_F(MsixTableTest, ARouteChangeRetargetsTheLiveVectorBeforeTheNextSignal) {
  table_.set_control(true, false);
  program(0, 0x40);
  int irqfd = -1;
  expect_live(24, 0x40, &irqfd);
  unmask(0);
  ASSERT_EQ(table_.raise(0), MsixTable::Raised::kSent);
  {
    InSequence order;  // deassign, commit the new route, re-assign
    EXPECT_CALL(vm_, unregister_irqfd(irqfd, 24u)).WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(vm_, set_msi_routes(ElementsAre(MsiRouteIs(24u, 0xfee00000u, 0x51u))))
        .WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(vm_, register_irqfd(irqfd, 24u, std::optional<int>()))
        .WillOnce(Return(Expected<void>{}));
  }
  table_.write_table(kMsixEntryData, 4, 0x51);
  EXPECT_EQ(table_.raise(0), MsixTable::Raised::kSent);
  EXPECT_EQ(drain(irqfd), 2u);
  expect_teardown(irqfd, 24);
}

TEST_F(MsixTableTest, AMaskedVectorSetsItsPendingBitAndGoesOutOnUnmask) {
  table_.set_control(true, false);
  program(5, 0x45);
  EXPECT_EQ(table_.raise(5), MsixTable::Raised::kPending);
  EXPECT_EQ(table_.raise(5), MsixTable::Raised::kPending);  // still one pending message
  EXPECT_EQ(table_.read_pba(0, 8), 1u << 5);
  EXPECT_EQ(table_.read_pba(0, 4), 1u << 5);
  EXPECT_EQ(table_.read_pba(4, 4), 0u);
  int irqfd = -1;
  expect_live(24, 0x45, &irqfd);
  unmask(5);
  EXPECT_EQ(table_.read_pba(0, 8), 0u);
  EXPECT_EQ(drain(irqfd), 1u);
  EXPECT_EQ(table_.sent(), 1u);
  // Masking takes the vector down (irqfd first, then its route and GSI); the next one waits.
  expect_teardown(irqfd, 24);
  mask(5);
  EXPECT_EQ(table_.raise(5), MsixTable::Raised::kPending);
  EXPECT_EQ(drain(irqfd), 0u);
  expect_live(24, 0x45, &irqfd);
  unmask(5);
  EXPECT_EQ(drain(irqfd), 1u);
  expect_teardown(irqfd, 24);
}

TEST_F(MsixTableTest, ClearingTheFunctionMaskCommitsEveryVectorOnce) {
  table_.set_control(true, true);
  program(0, 0x40);
  program(1, 0x41);
  unmask(0);
  unmask(1);
  EXPECT_EQ(table_.raise(1), MsixTable::Raised::kPending);
  EXPECT_EQ(table_.raise(0), MsixTable::Raised::kPending);
  EXPECT_EQ(table_.read_pba(0, 8), 0x3u);
  int fd0 = -1, fd1 = -1;
  {
    InSequence order;  // one commit with both routes, then both irqfds
    EXPECT_CALL(vm_, set_msi_routes(ElementsAre(MsiRouteIs(24u, 0xfee00000u, 0x40u),
                                                MsiRouteIs(25u, 0xfee00000u, 0x41u))))
        .WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(vm_, register_irqfd(_, 24u, std::optional<int>()))
        .WillOnce(DoAll(SaveArg<0>(&fd0), Return(Expected<void>{})));
    EXPECT_CALL(vm_, register_irqfd(_, 25u, std::optional<int>()))
        .WillOnce(DoAll(SaveArg<0>(&fd1), Return(Expected<void>{})));
  }
  table_.set_control(true, false);
  EXPECT_EQ(table_.read_pba(0, 8), 0u);
  EXPECT_EQ(drain(fd0), 1u);
  EXPECT_EQ(drain(fd1), 1u);
  {
    InSequence order;  // teardown is one batch too
    EXPECT_CALL(vm_, unregister_irqfd(fd0, 24u)).WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(vm_, unregister_irqfd(fd1, 25u)).WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(vm_, set_msi_routes(ElementsAre())).WillOnce(Return(Expected<void>{}));
  }
}

TEST_F(MsixTableTest, AFailedCommitKeepsThePendingBitAndSendsNothing) {
  table_.set_control(true, true);
  program(2, 0x42);
  unmask(2);
  ASSERT_EQ(table_.raise(2), MsixTable::Raised::kPending);
  EXPECT_CALL(vm_, set_msi_routes(_)).WillOnce(Return(fail(Errc::kNoResources, "full")));
  table_.set_control(true, false);
  EXPECT_EQ(table_.read_pba(0, 8), 1u << 2);
  EXPECT_EQ(table_.sent(), 0u);
  EXPECT_EQ(table_.raise(2), MsixTable::Raised::kPending) << "not live: no irqfd to signal";
  // The route never reached the hypervisor: tearing down commits nothing.
}

TEST(MsixTable, ThePbaHasABitPerVectorAcrossQwords) {
  StrictMockVm vm;
  irq::MsiRouteTable routes(vm);
  MsixTable table("big", 130, routes);
  EXPECT_EQ(table.pba_bytes(), 24u);
  table.set_control(true, true);
  ASSERT_EQ(table.raise(129), MsixTable::Raised::kPending);
  ASSERT_EQ(table.raise(64), MsixTable::Raised::kPending);
  EXPECT_EQ(table.read_pba(8, 8), 1u);
  EXPECT_EQ(table.read_pba(16, 8), 2u);
  EXPECT_EQ(table.read_pba(16, 4), 2u);
  EXPECT_EQ(table.read_pba(20, 4), 0u);
  EXPECT_EQ(table.read_pba(24, 4), ~uint64_t{0});
}

}  // namespace
}  // namespace ferry::pci

#include "ferry/irq/msi_route_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/mock_accel.h"

namespace ferry::irq {
namespace {

using test::MockVm;
using test::MsiRouteIs;
using ::testing::ElementsAre;
using ::testing::InSequence;
using ::testing::Return;
using ::testing::StrictMock;

TEST(MsiRouteTable, AllocatesTheLowestFreeGsiAbovePins) {
  StrictMock<MockVm> vm;
  MsiRouteTable table(vm);
  EXPECT_EQ(*table.allocate(), 24u);
  EXPECT_EQ(*table.allocate(), 25u);
  EXPECT_EQ(*table.allocate(), 26u);
  ASSERT_TRUE(table.release(25));  // no route yet: nothing to commit
  EXPECT_EQ(*table.allocate(), 25u);
}

TEST(MsiRouteTable, CommitsTheWholeTableOnEveryChangeAndOnlyOnChanges) {
  StrictMock<MockVm> vm;
  MsiRouteTable table(vm);
  uint32_t a = *table.allocate();
  uint32_t b = *table.allocate();
  InSequence order;
  EXPECT_CALL(vm, set_msi_routes(ElementsAre(MsiRouteIs(a, 0xfee00000u, 0x40u))))
      .WillOnce(Return(Expected<void>{}));
  EXPECT_CALL(vm, set_msi_routes(ElementsAre(MsiRouteIs(a, 0xfee00000u, 0x40u),
                                             MsiRouteIs(b, 0xfee01000u, 0x41u))))
      .WillOnce(Return(Expected<void>{}));
  EXPECT_CALL(vm, set_msi_routes(ElementsAre(MsiRouteIs(b, 0xfee01000u, 0x41u))))
      .WillOnce(Return(Expected<void>{}));
  ASSERT_TRUE(table.set_route(a, 0xfee00000, 0x40));
  ASSERT_TRUE(table.set_route(a, 0xfee00000, 0x40));  // unchanged: no commit
  ASSERT_TRUE(table.set_route(b, 0xfee01000, 0x41));
  ASSERT_TRUE(table.release(a));
}

TEST(MsiRouteTable, AFailedCommitLeavesTheOldRoute) {
  StrictMock<MockVm> vm;
  MsiRouteTable table(vm);
  uint32_t gsi = *table.allocate();
  InSequence order;
  EXPECT_CALL(vm, set_msi_routes(ElementsAre(MsiRouteIs(gsi, 0xfee00000u, 0x40u))))
      .WillOnce(Return(Expected<void>{}));
  EXPECT_CALL(vm, set_msi_routes(ElementsAre(MsiRouteIs(gsi, 0xfee00000u, 0x99u))))
      .WillOnce(Return(fail(Errc::kInvalidArgument, "refused")));
  // Setting the old route again must be a no-op: the hypervisor still has it.
  ASSERT_TRUE(table.set_route(gsi, 0xfee00000, 0x40));
  EXPECT_FALSE(table.set_route(gsi, 0xfee00000, 0x99));
  ASSERT_TRUE(table.set_route(gsi, 0xfee00000, 0x40));
}

TEST(MsiRouteTable, UnknownGsisAreErrors) {
  StrictMock<MockVm> vm;
  MsiRouteTable table(vm);
  EXPECT_FALSE(table.set_route(30, 0xfee00000, 0x40));
  EXPECT_FALSE(table.release(30));
}

}  // namespace
}  // namespace ferry::irq

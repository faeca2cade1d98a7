#include "ferry/irq/msi_route_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/mock_accel.h"

namespace ferry::irq {
namespace {

using test::MsiRouteIs;
using test::StrictMockVm;
using ::testing::ElementsAre;
using ::testing::InSequence;
using ::testing::Return;
using ::testing::StrictMock;

TEST(MsiRouteTable, AllocatesTheLowestFreeGsiAbovePins) {
  StrictMockVm vm;
  MsiRouteTable table(vm);
  EXPECT_EQ(*table.allocate(), 24u);
  EXPECT_EQ(*table.allocate(), 25u);
  EXPECT_EQ(*table.allocate(), 26u);
  table.release(25);
  ASSERT_TRUE(table.commit());  // no route was staged: nothing to push
  EXPECT_EQ(*table.allocate(), 25u);
}

TEST(MsiRouteTable, PushesTheWholeTableOnCommitAndOnlyWhenSomethingChanged) {
  StrictMockVm vm;
  MsiRouteTable table(vm);
  uint32_t a = *table.allocate();
  uint32_t b = *table.allocate();
  InSequence order;
  EXPECT_CALL(vm, set_msi_routes(ElementsAre(MsiRouteIs(a, 0xfee00000u, 0x40u),
                                             MsiRouteIs(b, 0xfee01000u, 0x41u))))
      .WillOnce(Return(Expected<void>{}));
  EXPECT_CALL(vm, set_msi_routes(ElementsAre(MsiRouteIs(b, 0xfee01000u, 0x41u))))
      .WillOnce(Return(Expected<void>{}));
  ASSERT_TRUE(table.stage(a, 0xfee00000, 0x40));
  ASSERT_TRUE(table.stage(b, 0xfee01000, 0x41));
  EXPECT_FALSE(table.committed(a, 0xfee00000, 0x40)) << "staged is not in force";
  ASSERT_TRUE(table.commit());  // two stages, one push
  EXPECT_TRUE(table.committed(a, 0xfee00000, 0x40));
  ASSERT_TRUE(table.stage(a, 0xfee00000, 0x40));  // unchanged
  ASSERT_TRUE(table.commit());                    // nothing to push
  table.release(a);
  ASSERT_TRUE(table.commit());
  EXPECT_FALSE(table.committed(a, 0xfee00000, 0x40));
  EXPECT_EQ(table.stats().commits, 2u);
  EXPECT_EQ(table.stats().entries_pushed, 3u);
}

TEST(MsiRouteTable, AFailedCommitDropsTheNewRouteAndKeepsTheOld) {
  StrictMockVm vm;
  MsiRouteTable table(vm);
  uint32_t gsi = *table.allocate();
  InSequence order;
  EXPECT_CALL(vm, set_msi_routes(ElementsAre(MsiRouteIs(gsi, 0xfee00000u, 0x40u))))
      .WillOnce(Return(Expected<void>{}));
  EXPECT_CALL(vm, set_msi_routes(ElementsAre(MsiRouteIs(gsi, 0xfee00000u, 0x99u))))
      .WillOnce(Return(fail(Errc::kInvalidArgument, "refused")));
  ASSERT_TRUE(table.stage(gsi, 0xfee00000, 0x40));
  ASSERT_TRUE(table.commit());
  ASSERT_TRUE(table.stage(gsi, 0xfee00000, 0x99));
  EXPECT_FALSE(table.commit());
  EXPECT_TRUE(table.committed(gsi, 0xfee00000, 0x40)) << "the hypervisor still has the old one";
  ASSERT_TRUE(table.commit()) << "the stage is back to what is in force: nothing to push";
}

TEST(MsiRouteTable, UnknownGsisAreErrors) {
  StrictMockVm vm;
  MsiRouteTable table(vm);
  EXPECT_FALSE(table.stage(30, 0xfee00000, 0x40));
  table.release(30);
  EXPECT_TRUE(table.commit());
}

}  // namespace
}  // namespace ferry::irq

#include "ferry/vmm/test_device.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/guests/testdev.h"
#include "support/mock_accel.h"

namespace ferry::vmm {
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

TEST(TestDevice, ScratchBehavesLikeLittleEndianMemory) {
  StrictMockVm vm;
  irq::MsiRouteTable routes(vm);
  auto device = *TestDevice::create(routes);
  device->write_register(FERRY_TESTDEV_SCRATCH, 8, 0x1122334455667788);
  EXPECT_EQ(device->read_register(FERRY_TESTDEV_SCRATCH + 1, 2), 0x6677u);
  device->write_register(FERRY_TESTDEV_SCRATCH + 0xfc, 4, 0xaabbccdd);
  EXPECT_EQ(device->read_register(FERRY_TESTDEV_SCRATCH + 0xfc, 4), 0xaabbccddu);
  // Past the end of scratch nothing is stored and reads are all ones.
  device->write_register(FERRY_TESTDEV_SCRATCH + 0xfd, 4, 0);
  EXPECT_EQ(device->read_register(FERRY_TESTDEV_SCRATCH + 0xfd, 4), 0xffffffffffffffffu);
  EXPECT_EQ(device->read_register(FERRY_TESTDEV_ID, 4), FERRY_TESTDEV_MAGIC);
  EXPECT_EQ(device->read_register(FERRY_TESTDEV_ACCESSES, 4), 7u);
}

TEST(TestDevice, DoorbellCommitsTheRouteThenWiresTheIrqfdThenSignals) {
  StrictMockVm vm;
  irq::MsiRouteTable routes(vm);
  auto device = *TestDevice::create(routes);
  int irqfd = -1;
  {
    InSequence order;  // route before irqfd: an MSHV irqfd without a route drops signals
    EXPECT_CALL(vm, set_msi_routes(ElementsAre(MsiRouteIs(24u, 0xfee00000u, 0x40u))))
        .WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(vm, register_irqfd(_, 24u, std::optional<int>()))
        .WillOnce(DoAll(SaveArg<0>(&irqfd), Return(Expected<void>{})));
    // A new message retargets the live vector: deassign, commit, re-assign.
    EXPECT_CALL(vm, unregister_irqfd(_, 24u)).WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(vm, set_msi_routes(ElementsAre(MsiRouteIs(24u, 0xfee00000u, 0x41u))))
        .WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(vm, register_irqfd(_, 24u, std::optional<int>()))
        .WillOnce(Return(Expected<void>{}));
  }
  device->write_register(FERRY_TESTDEV_MSI_ADDR_LO, 4, 0xfee00000);
  device->write_register(FERRY_TESTDEV_MSI_DATA, 4, 0x40);
  device->write_register(FERRY_TESTDEV_MSI_DOORBELL, 4, 1);
  device->write_register(FERRY_TESTDEV_MSI_DOORBELL, 4, 1);  // same route: no commit
  device->write_register(FERRY_TESTDEV_MSI_DATA, 4, 0x41);
  device->write_register(FERRY_TESTDEV_MSI_DOORBELL, 4, 1);
  EXPECT_EQ(device->read_register(FERRY_TESTDEV_MSI_SENT, 4), 3u);
  uint64_t count = 0;
  ASSERT_EQ(::read(irqfd, &count, sizeof count), 8);
  EXPECT_EQ(count, 3u);

  InSequence order;  // teardown: deassign before the route leaves
  EXPECT_CALL(vm, unregister_irqfd(irqfd, 24u)).WillOnce(Return(Expected<void>{}));
  EXPECT_CALL(vm, set_msi_routes(ElementsAre())).WillOnce(Return(Expected<void>{}));
  device.reset();
}

TEST(TestDevice, ARefusedRouteSendsNothing) {
  StrictMockVm vm;
  irq::MsiRouteTable routes(vm);
  auto device = *TestDevice::create(routes);
  device->write_register(FERRY_TESTDEV_MSI_ADDR_LO, 4, 0xfee00000);
  device->write_register(FERRY_TESTDEV_MSI_DATA, 4, 0x40);
  EXPECT_CALL(vm, set_msi_routes(_)).WillOnce(Return(fail(Errc::kInvalidArgument, "no")));
  device->write_register(FERRY_TESTDEV_MSI_DOORBELL, 4, 1);
  EXPECT_EQ(device->read_register(FERRY_TESTDEV_MSI_SENT, 4), 0u);
}

// The hostile IRQ guest's garbage (guests/hostile_irq.c): a message that is not an interrupt (its
// reset value, address 0 and vector 0, among them) never reaches the hypervisor (the StrictMock
// fails on any push), is not counted as sent, and is not held to go out with the next good one.
TEST(TestDevice, AMessageThatIsNotAnInterruptIsNeverRoutedNorSentLater) {
  StrictMockVm vm;
  irq::MsiRouteTable routes(vm);
  auto device = *TestDevice::create(routes);
  device->write_register(FERRY_TESTDEV_MSI_DOORBELL, 4, 1);
  device->write_register(FERRY_TESTDEV_MSI_ADDR_LO, 4, 0xfee00000);
  device->write_register(FERRY_TESTDEV_MSI_DATA, 4, 0x0e);
  device->write_register(FERRY_TESTDEV_MSI_DOORBELL, 4, 1);
  EXPECT_EQ(device->read_register(FERRY_TESTDEV_MSI_SENT, 4), 0u);
  int irqfd = -1;
  EXPECT_CALL(vm, set_msi_routes(ElementsAre(MsiRouteIs(24u, 0xfee00000u, 0x40u))))
      .WillOnce(Return(Expected<void>{}));
  EXPECT_CALL(vm, register_irqfd(_, 24u, _))
      .WillOnce(DoAll(SaveArg<0>(&irqfd), Return(Expected<void>{})));
  device->write_register(FERRY_TESTDEV_MSI_DATA, 4, 0x40);
  device->write_register(FERRY_TESTDEV_MSI_DOORBELL, 4, 1);
  EXPECT_EQ(device->read_register(FERRY_TESTDEV_MSI_SENT, 4), 1u);
  uint64_t count = 0;
  ASSERT_EQ(::read(irqfd, &count, sizeof count), 8);
  EXPECT_EQ(count, 1u) << "the refused rings went nowhere";
  EXPECT_CALL(vm, unregister_irqfd(irqfd, 24u)).WillOnce(Return(Expected<void>{}));
  EXPECT_CALL(vm, set_msi_routes(ElementsAre())).WillOnce(Return(Expected<void>{}));
  device.reset();
}

}  // namespace
}  // namespace ferry::vmm

#include "ferry/irq/ioapic.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/mock_accel.h"

namespace ferry::irq {
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

constexpr uint64_t kSelect = 0x00, kWindow = 0x10, kEoiRegister = 0x40;
constexpr uint32_t kLevel = 1u << 15, kMasked = 1u << 16, kRemoteIrr = 1u << 14;

class IoapicTest : public ::testing::Test {
 protected:
  IoapicTest() : routes_(vm_), ioapic_(*Ioapic::create(routes_)) {}
  ~IoapicTest() override {
    for (int fd : irqfds_) {
      EXPECT_CALL(vm_, unregister_irqfd(fd, _)).WillOnce(Return(Expected<void>{}));
    }
    if (routed_) EXPECT_CALL(vm_, set_msi_routes(_)).WillRepeatedly(Return(Expected<void>{}));
    ioapic_.reset();
  }

  uint32_t read(uint32_t index) {
    ioapic_->write_register(kSelect, 4, index);
    return static_cast<uint32_t>(ioapic_->read_register(kWindow, 4));
  }
  void write(uint32_t index, uint32_t value) {
    ioapic_->write_register(kSelect, 4, index);
    ioapic_->write_register(kWindow, 4, value);
  }
  // Programs (and unmasks) pin's entry, expecting its route to be committed and then its irqfd
  // to be assigned; returns the irqfd's eventfd.
  int program(unsigned pin, uint32_t low, uint8_t destination, uint64_t address, uint32_t data) {
    routed_ = true;
    int fd = -1;
    {
      InSequence order;
      EXPECT_CALL(vm_, set_msi_routes(ElementsAre(MsiRouteIs(pin, address, data))))
          .WillOnce(Return(Expected<void>{}));
      EXPECT_CALL(vm_, register_irqfd(_, pin, std::optional<int>()))
          .WillOnce(DoAll(SaveArg<0>(&fd), Return(Expected<void>{})));
    }
    write(0x11 + 2 * pin, uint32_t{destination} << 24);
    write(0x10 + 2 * pin, low);
    ::testing::Mock::VerifyAndClearExpectations(&vm_);
    irqfds_.push_back(fd);
    return fd;
  }
  uint64_t drain(int fd) {
    uint64_t count = 0;
    if (::read(fd, &count, sizeof count) != sizeof count) return 0;
    return count;
  }

  StrictMockVm vm_;
  MsiRouteTable routes_;
  std::shared_ptr<Ioapic> ioapic_;
  std::vector<int> irqfds_;
  bool routed_ = false;
};

TEST_F(IoapicTest, IdentifiesAsVersion0x20With24PinsAllMasked) {
  EXPECT_EQ(read(0x01), 0x00170020u);
  for (unsigned pin = 0; pin < Ioapic::kPins; ++pin) EXPECT_EQ(read(0x10 + 2 * pin), kMasked);
  write(0x00, 0x0f000000 | 0xff);
  EXPECT_EQ(read(0x00), 0x0f000000u);             // only the 4-bit ID is writable
  EXPECT_EQ(read(0x10 + 2 * Ioapic::kPins), 0u);  // past the last entry
}

TEST_F(IoapicTest, AnEdgePinSendsItsMsiOnEachRisingEdgeOnly) {
  const int fd = program(4, 0x30, 1, 0xfee01000, 0x30);
  ioapic_->set_level(4, true);
  ioapic_->set_level(4, true);  // still high: no new edge
  EXPECT_EQ(drain(fd), 1u);
  ioapic_->set_level(4, false);
  ioapic_->set_level(4, true);
  EXPECT_EQ(drain(fd), 1u);
}

TEST_F(IoapicTest, EdgesWhileMaskedAreLost) {
  ioapic_->set_level(3, true);  // masked from reset: nothing happens, no route either
  ioapic_->set_level(3, false);
  const int fd = program(3, 0x33, 0, 0xfee00000, 0x33);
  ioapic_->set_level(3, false);
  EXPECT_EQ(drain(fd), 0u);
}

TEST_F(IoapicTest, MaskingDeassignsTheIrqfdBeforeTheRouteLeaves) {
  const int fd = program(6, 0x36, 0, 0xfee00000, 0x36);
  {
    InSequence order;
    EXPECT_CALL(vm_, unregister_irqfd(fd, 6u)).WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(vm_, set_msi_routes(ElementsAre())).WillOnce(Return(Expected<void>{}));
  }
  write(0x10 + 2 * 6, 0x36 | kMasked);
  ::testing::Mock::VerifyAndClearExpectations(&vm_);
  irqfds_.clear();
  routed_ = false;
  ioapic_->set_level(6, true);  // masked: lost
  EXPECT_EQ(drain(fd), 0u);
}

TEST_F(IoapicTest, ALevelPinHoldsRemoteIrrUntilEoiAndRefiresIfStillAsserted) {
  const int fd = program(9, 0x41 | kLevel, 0, 0xfee00000, 0x41 | (1u << 15) | (1u << 14));
  ioapic_->set_level(9, true);
  EXPECT_EQ(drain(fd), 1u);
  EXPECT_TRUE(read(0x10 + 2 * 9) & kRemoteIrr);
  ioapic_->set_level(9, true);  // Remote IRR set: no second delivery
  EXPECT_EQ(drain(fd), 0u);
  ioapic_->end_of_interrupt(0x42);  // another vector: no effect
  EXPECT_EQ(drain(fd), 0u);
  ioapic_->end_of_interrupt(0x41);  // still asserted: fires again
  EXPECT_EQ(drain(fd), 1u);
  ioapic_->set_level(9, false);
  ioapic_->write_register(kEoiRegister, 4, 0x41);  // the EOI register works too
  EXPECT_FALSE(read(0x10 + 2 * 9) & kRemoteIrr);
  EXPECT_EQ(drain(fd), 0u);
}

TEST_F(IoapicTest, UnmaskingAnAssertedLevelPinFiresIt) {
  ioapic_->set_level(5, true);
  const int fd = program(5, 0x50 | kLevel, 0, 0xfee00000, 0xc050);
  EXPECT_EQ(drain(fd), 1u);
}

TEST_F(IoapicTest, GuestCannotSetReadOnlyBitsOrReachOtherPins) {
  program(2, 0x60 | kRemoteIrr | (1u << 12), 0, 0xfee00000, 0x60);
  EXPECT_EQ(read(0x10 + 2 * 2), 0x60u);
  ioapic_->set_level(Ioapic::kPins, true);  // out of range: ignored
  ioapic_->set_level(1000, true);
}

TEST_F(IoapicTest, LogicalDestinationAndDeliveryModeReachTheRoute) {
  program(7, 0x70 | (1u << 11) | (1u << 8), 0x3, 0xfee03004, 0x170);
}

// Found by the hostile IOAPIC guest (guests/hostile_irq.c): a pin programmed with vector 0-15, or
// a delivery mode ferry refuses (msi_message.h), must get no route at all, fire nothing and leave
// no Remote IRR (no EOI will ever come for it). The StrictMock Vm fails on any route push.
TEST_F(IoapicTest, APinWithAnIllegalVectorOrARefusedModeIsNeverRouted) {
  for (uint32_t mode : {0u, 1u, 2u, 3u, 6u, 7u}) {
    for (uint32_t vector : {0u, 2u, 8u, 15u, 0x40u}) {
      if (mode <= 1 && vector >= 16) continue;  // a good message: not this test's business
      const uint32_t low = vector | mode << 8 | kLevel;
      write(0x10 + 2 * 8, low);
      ioapic_->set_level(8, true);
      EXPECT_EQ(read(0x10 + 2 * 8), low) << "no Remote IRR for mode " << mode;
      ioapic_->set_level(8, false);
      write(0x10 + 2 * 8, low & ~kLevel);
      ioapic_->set_level(8, true);
      ioapic_->set_level(8, false);
    }
  }
  write(0x10 + 2 * 8, kMasked);
}

TEST_F(IoapicTest, NmiIsRoutedWhateverTheVectorField) {
  program(10, 0x02 | (4u << 8), 0, 0xfee00000, 0x402);
}

TEST_F(IoapicTest, InitIsRoutedWhateverTheVectorField) {
  program(11, 0x00 | (5u << 8), 0, 0xfee00000, 0x500);
}

}  // namespace
}  // namespace ferry::irq

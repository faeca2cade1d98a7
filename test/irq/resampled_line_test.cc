// ResampledLine: a level source behind a trigger/resample eventfd pair (VFIO INTx's shape) on
// the VMM's IOAPIC, with the resampling done at the guest's EOI by ferry (KVM refuses a
// resamplefd with the split irqchip).
#include "ferry/irq/resampled_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include "ferry/base/event_fd.h"
#include "support/mock_accel.h"

namespace ferry::irq {
namespace {

using test::StrictMockVm;
using ::testing::_;
using ::testing::DoAll;
using ::testing::Return;
using ::testing::SaveArg;

constexpr unsigned kPin = 10;
constexpr uint32_t kVector = 0x51;
constexpr uint32_t kLevel = 1u << 15;

// How many times `fd` was signalled, waiting up to a second for the first (the loop's thread
// delivers asynchronously); 0 when nothing came.
uint64_t count_within_a_second(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 1000) != 1) return 0;
  uint64_t count = 0;
  return ::read(fd, &count, sizeof count) == sizeof count ? count : 0;
}

class ResampledLineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EXPECT_CALL(vm_, set_msi_routes(_)).WillRepeatedly(Return(Expected<void>{}));
    EXPECT_CALL(vm_, register_irqfd(_, kPin, std::optional<int>()))
        .WillOnce(DoAll(SaveArg<0>(&irqfd_), Return(Expected<void>{})));
    EXPECT_CALL(vm_, unregister_irqfd(_, kPin)).WillRepeatedly(Return(Expected<void>{}));
    ioapic_ = *Ioapic::create(routes_);
    write(0x11 + 2 * kPin, 0);  // destination APIC 0
    write(0x10 + 2 * kPin, kVector | kLevel);
    ASSERT_GE(irqfd_, 0);
    line_ = *ResampledLine::create(*ioapic_, kPin, *loop_, trigger_, resample_);
  }
  void TearDown() override {
    line_.reset();
    ioapic_.reset();
  }
  void write(uint32_t index, uint32_t value) {
    ioapic_->write_register(0x00, 4, index);
    ioapic_->write_register(0x10, 4, value);
  }
  bool remote_irr() {
    ioapic_->write_register(0x00, 4, 0x10 + 2 * kPin);
    return ioapic_->read_register(0x10, 4) & (1u << 14);
  }

  StrictMockVm vm_;
  std::unique_ptr<EventLoop> loop_ = *EventLoop::start();
  MsiRouteTable routes_{vm_};
  std::shared_ptr<Ioapic> ioapic_;
  EventFd trigger_ = *EventFd::create();
  EventFd resample_ = *EventFd::create();
  std::unique_ptr<ResampledLine> line_;
  int irqfd_ = -1;
};

TEST_F(ResampledLineTest, ATriggerAssertsThePinAndTheEoiDeassertsItAndResamples) {
  ASSERT_TRUE(trigger_.signal());
  EXPECT_EQ(count_within_a_second(irqfd_), 1u);  // delivered as the pin's MSI
  EXPECT_TRUE(remote_irr());
  EXPECT_EQ(*resample_.drain(), 0u);  // nothing resampled before the EOI

  ioapic_->end_of_interrupt(kVector);
  EXPECT_EQ(count_within_a_second(resample_.fd()), 1u);  // the source is told to unmask
  EXPECT_FALSE(remote_irr());
  EXPECT_EQ(count_within_a_second(irqfd_), 0u);  // deasserted: an ordinary level pin would refire
}

TEST_F(ResampledLineTest, ASourceStillAssertedAfterTheResampleIsDeliveredAgain) {
  ASSERT_TRUE(trigger_.signal());
  EXPECT_EQ(count_within_a_second(irqfd_), 1u);
  ioapic_->end_of_interrupt(kVector);
  EXPECT_EQ(count_within_a_second(resample_.fd()), 1u);
  ASSERT_TRUE(trigger_.signal());  // what VFIO does on unmask when the device still asserts
  EXPECT_EQ(count_within_a_second(irqfd_), 1u);
}

TEST_F(ResampledLineTest, TriggersBeforeTheEoiAreOneInterrupt) {
  ASSERT_TRUE(trigger_.signal());
  EXPECT_EQ(count_within_a_second(irqfd_), 1u);
  ASSERT_TRUE(trigger_.signal());
  ASSERT_TRUE(trigger_.signal());
  EXPECT_EQ(count_within_a_second(irqfd_), 0u);  // Remote IRR holds them
  ioapic_->end_of_interrupt(kVector + 1);        // another vector's EOI resamples nothing
  EXPECT_EQ(count_within_a_second(resample_.fd()), 0u);
}

TEST_F(ResampledLineTest, AfterTheLineIsGoneThePinIsOrdinaryAgain) {
  line_.reset();
  ASSERT_TRUE(trigger_.signal());
  EXPECT_EQ(count_within_a_second(irqfd_), 0u);  // the trigger is no longer watched
  ioapic_->set_level(kPin, true);
  EXPECT_EQ(count_within_a_second(irqfd_), 1u);
  ioapic_->end_of_interrupt(kVector);
  EXPECT_EQ(count_within_a_second(irqfd_), 1u);  // still asserted: an ordinary pin refires
  EXPECT_EQ(*resample_.drain(), 0u);
}

TEST(ResampledLine, APinPastTheLastIsRefusedWithItsRange) {
  StrictMockVm vm;
  MsiRouteTable routes(vm);
  auto ioapic = *Ioapic::create(routes);
  auto loop = *EventLoop::start();
  const EventFd trigger = *EventFd::create();
  const EventFd resample = *EventFd::create();
  auto line = ResampledLine::create(*ioapic, Ioapic::kPins, *loop, trigger, resample);
  ASSERT_FALSE(line);
  EXPECT_THAT(line.error().message(), ::testing::HasSubstr("it has pins 0-23"));
}

}  // namespace
}  // namespace ferry::irq

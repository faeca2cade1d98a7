// The fake's irqfds against drivers/hv/mshv_eventfd.c and mshv_irq.c: which routing-table entry
// a signal finds, what a pending count does at assign, and the irqfd rules, driven with raw
// ioctls and real eventfds.
#include <gtest/gtest.h>
#include <unistd.h>

#include "fake_mshv_driver_test.h"
#include "ferry/base/event_fd.h"

namespace ferry::test {
namespace {

using namespace mshv;

TEST_F(FakeMshvDriverTest, IrqfdWithoutRouteAcceptsButDropsEverySignal) {
  auto event = EventFd::create();
  ASSERT_TRUE(event);
  ASSERT_EQ(irqfd(event->fd(), 40), 0) << "the kernel accepts an irqfd before its route";
  ASSERT_TRUE(event->signal());
  EXPECT_TRUE(fake_.injections().empty());
  EXPECT_EQ(fake_.dropped(40), 1u);
  ASSERT_EQ(set_routes({msi(40, 0x51)}), 0);
  EXPECT_TRUE(fake_.injections().empty())
      << "a dropped signal is not replayed when the route appears";
  ASSERT_TRUE(event->signal());
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u);
  EXPECT_EQ(injected[0].gsi, 40u);
  EXPECT_EQ(injected[0].vector, 0x51);
  EXPECT_FALSE(injected[0].at_assign);
}

TEST_F(FakeMshvDriverTest, PendingCountIsInjectedAtAssignWithTheRouteOfThatMoment) {
  auto event = EventFd::create();
  ASSERT_TRUE(event);
  ASSERT_TRUE(event->signal());  // before any irqfd: it waits on the eventfd
  ASSERT_EQ(set_routes({msi(41, 0x60)}), 0);
  ASSERT_EQ(irqfd(event->fd(), 41), 0);
  ASSERT_EQ(set_routes({msi(41, 0x61)}), 0);
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u);
  EXPECT_EQ(injected[0].vector, 0x60) << "the route when the irqfd was assigned";
  EXPECT_TRUE(injected[0].at_assign);
  ASSERT_TRUE(event->signal());
  injected = fake_.injections();
  ASSERT_EQ(injected.size(), 2u) << "the left-over count does not fire twice";
  EXPECT_EQ(injected[1].vector, 0x61);
}

TEST_F(FakeMshvDriverTest, PendingCountWithoutRouteAtAssignIsLost) {
  auto event = EventFd::create();
  ASSERT_TRUE(event);
  ASSERT_TRUE(event->signal());
  ASSERT_EQ(irqfd(event->fd(), 42), 0);
  ASSERT_EQ(set_routes({msi(42, 0x60)}), 0);
  EXPECT_TRUE(fake_.injections().empty());
  EXPECT_EQ(fake_.dropped(42), 1u);
}

TEST_F(FakeMshvDriverTest, SignalIsResolvedAgainstTheTableInForceWhenSent) {
  auto event = EventFd::create();
  ASSERT_TRUE(event);
  ASSERT_EQ(set_routes({msi(43, 0x70)}), 0);
  ASSERT_EQ(irqfd(event->fd(), 43), 0);
  ASSERT_TRUE(event->signal());
  ASSERT_EQ(set_routes({msi(43, 0x71)}), 0);  // after the signal
  ASSERT_TRUE(event->signal());
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 2u);
  EXPECT_EQ(injected[0].vector, 0x70);
  EXPECT_EQ(injected[1].vector, 0x71);
}

TEST_F(FakeMshvDriverTest, GsiZeroWithoutRouteInjectsVectorZero) {
  auto event = EventFd::create();
  ASSERT_TRUE(event);
  ASSERT_EQ(irqfd(event->fd(), 0), 0);
  ASSERT_TRUE(event->signal());
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u) << "the kernel's GSI 0 quirk: no drop";
  EXPECT_EQ(injected[0].vector, 0);
}

TEST_F(FakeMshvDriverTest, IrqfdRules) {
  auto a = EventFd::create();
  auto b = EventFd::create();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(irqfd(a->fd(), 44, 1u << 2), -EINVAL) << "unknown flag";
  EXPECT_EQ(irqfd(1000, 44), -EBADF);
  EXPECT_EQ(irqfd(partition_.get(), 44), -EINVAL) << "not an eventfd";
  ASSERT_EQ(irqfd(a->fd(), 44), 0);
  EXPECT_EQ(irqfd(a->fd(), 45), -EBUSY) << "one eventfd, one GSI";
  EXPECT_EQ(irqfd(a->fd(), 44), -EBUSY);
  const int dup = ::dup(a->fd());
  EXPECT_EQ(irqfd(dup, 46), -EBUSY) << "the same eventfd through another fd";
  ::close(dup);
  EXPECT_EQ(irqfd(a->fd(), 44, kIrqfdDeassign), 0);
  EXPECT_EQ(fake_.irqfd_count(), 0u);
  EXPECT_EQ(irqfd(a->fd(), 44, kIrqfdDeassign), 0) << "the kernel answers 0 even for no match";
  EXPECT_EQ(irqfd(b->fd(), 47, kIrqfdResample, a->fd()), -EINVAL) << "no route";
  ASSERT_EQ(set_routes({msi(47, 0x30), msi(48, 0x31, true)}), 0);
  EXPECT_EQ(irqfd(b->fd(), 47, kIrqfdResample, a->fd()), -EINVAL) << "edge route";
  EXPECT_EQ(irqfd(b->fd(), 48, kIrqfdResample, a->fd()), 0);
}

}  // namespace
}  // namespace ferry::test

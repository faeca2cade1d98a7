// The fake's irqfds against drivers/hv/mshv_eventfd.c and mshv_irq.c: which routing-table entry
// a signal finds, what a pending count does at assign, and the irqfd rules, driven with raw
// ioctls and real eventfds.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fake_eventfd.h"
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

// Each write() wakes the irqfd once, and the wakeup (mshv_irqfd_wakeup) reads and clears the
// whole counter: a write of 3 is one injection, two writes of 1 are two.
TEST_F(FakeMshvDriverTest, OneWriteIsOneInjectionWhateverItAdds) {
  ASSERT_EQ(set_routes({msi(44, 0x70)}), 0);
  auto event = EventFd::create();
  ASSERT_TRUE(event);
  ASSERT_EQ(irqfd(event->fd(), 44), 0);
  const uint64_t three = 3;
  ASSERT_EQ(::write(event->fd(), &three, sizeof three), 8);
  EXPECT_EQ(fake_.injections().size(), 1u);
  auto left = event->drain();
  ASSERT_TRUE(left);
  EXPECT_EQ(*left, 0u) << "the wakeup read the counter";
  ASSERT_TRUE(event->signal());
  ASSERT_TRUE(event->signal());
  EXPECT_EQ(fake_.injections().size(), 3u)
      << "two writes, two wakeups, though nobody looked between";
}

// A count pending at assign is asserted once and left on the counter; the next write's wakeup
// reads it along with its own and asserts once.
TEST_F(FakeMshvDriverTest, APendingCountAndTheNextWriteAreTwoInjections) {
  ASSERT_EQ(set_routes({msi(45, 0x71)}), 0);
  auto event = EventFd::create();
  ASSERT_TRUE(event);
  const uint64_t two = 2;
  ASSERT_EQ(::write(event->fd(), &two, sizeof two), 8);
  ASSERT_EQ(irqfd(event->fd(), 45), 0);
  ASSERT_TRUE(event->signal());
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 2u);
  EXPECT_TRUE(injected[0].at_assign);
  EXPECT_FALSE(injected[1].at_assign);
  auto left = event->drain();
  ASSERT_TRUE(left);
  EXPECT_EQ(*left, 0u);
}

// Deassign shuts the irqfd down (mshv_irqfd_shutdown), which reads and resets the counter as it
// leaves the eventfd's wait queue: a count pending at the first assign is not replayed by the
// next. A deassign that matches nothing touches nothing.
TEST_F(FakeMshvDriverTest, DeassignTakesThePendingCount) {
  ASSERT_EQ(set_routes({msi(46, 0x72)}), 0);
  auto event = EventFd::create();
  ASSERT_TRUE(event);
  ASSERT_TRUE(event->signal());
  ASSERT_EQ(irqfd(event->fd(), 46), 0);
  ASSERT_EQ(irqfd(event->fd(), 47, kIrqfdDeassign), 0) << "another GSI: no match";
  EXPECT_EQ(fake_.irqfd_count(), 1u);
  ASSERT_EQ(irqfd(event->fd(), 46, kIrqfdDeassign), 0);
  ASSERT_EQ(irqfd(event->fd(), 46), 0);
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u) << "at the first assign only";
  auto left = event->drain();
  ASSERT_TRUE(left);
  EXPECT_EQ(*left, 0u);
  UniqueFd blocking(::eventfd(0, EFD_CLOEXEC));
  ASSERT_EQ(irqfd(blocking.get(), 48), 0);
  EXPECT_EQ(irqfd(blocking.get(), 48, kIrqfdDeassign), 0) << "an empty blocking eventfd: no read";
}

// Closing the last reference to the eventfd wakes the irqfd with EPOLLHUP, which deactivates it
// (mshv_irqfd_wakeup). The kernel holds the eventfd's context, not its file, so its reference
// keeps nothing open. A deassign then names an fd that is no longer open, and
// eventfd_ctx_fdget() fails with EBADF (on a live eventfd that matches nothing it answers 0).
TEST_F(FakeMshvDriverTest, ClosingTheEventfdDetachesTheIrqfd) {
  ASSERT_EQ(set_routes({msi(49, 0x73), msi(50, 0x74)}), 0);
  auto kept = EventFd::create();
  ASSERT_TRUE(kept);
  ASSERT_EQ(irqfd(kept->fd(), 50), 0);
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const int other = ::dup(fd);
  ASSERT_GE(other, 0);
  ASSERT_EQ(irqfd(fd, 49), 0);
  const uint64_t one = 1;
  ASSERT_EQ(::write(other, &one, sizeof one), 8);
  ::close(fd);
  EXPECT_EQ(fake_.irqfd_count(), 2u) << "a dup still refers to the eventfd";
  ::close(other);
  EXPECT_EQ(fake_.irqfd_count(), 1u) << "the last reference is gone";
  const auto left = fake_.irqfds();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].gsi, 50u) << "the other irqfd stays";
  EXPECT_EQ(left[0].eventfd_id, lookup_eventfd(kept->fd()).info->id);
  EXPECT_EQ(irqfd(fd, 49, kIrqfdDeassign), -EBADF);
  ASSERT_EQ(fake_.injections().size(), 1u) << "the write before the close";
  EXPECT_EQ(fake_.injections()[0].vector, 0x73);
}

// mshv_update_routing_table() sizes the table to the highest routed GSI and zero-fills it; the
// slow path (mshv_assert_irq_slow) checks an entry's validity only when the entry's GSI number
// is non-zero, and a hole's is zero. So a hole asserts vector 0 on APIC 0, where a GSI beyond the
// table (whose entry carries its own number) is dropped.
TEST_F(FakeMshvDriverTest, ASignalOnAHoleAssertsVectorZeroOnApicZero) {
  ASSERT_EQ(set_routes({msi(24, 0x40), msi(40, 0x41)}), 0);
  auto hole = EventFd::create();
  auto beyond = EventFd::create();
  ASSERT_TRUE(hole && beyond);
  ASSERT_EQ(irqfd(hole->fd(), 30), 0);
  ASSERT_EQ(irqfd(beyond->fd(), 41), 0);
  ASSERT_TRUE(hole->signal());
  ASSERT_TRUE(beyond->signal());
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u) << "the hole asserts, the GSI beyond the table is dropped";
  EXPECT_EQ(injected[0].gsi, 30u);
  EXPECT_EQ(injected[0].vector, 0);
  EXPECT_EQ(injected[0].apic_id, 0);
  EXPECT_EQ(injected[0].entry, FakeRouteEntry::kHole);
  EXPECT_FALSE(injected[0].fast_path);
  EXPECT_EQ(fake_.dropped(30), 0u);
  EXPECT_EQ(fake_.dropped(41), 1u);
  EXPECT_EQ(fake_.hole_signals(), 1u);
}

// The hazard for a VMM: releasing a route while its irqfd is still assigned leaves a hole under a
// higher route, and the next signal misfires as vector 0.
TEST_F(FakeMshvDriverTest, ARouteReleasedUnderAnAssignedIrqfdMisfires) {
  ASSERT_EQ(set_routes({msi(30, 0x50), msi(40, 0x51)}), 0);
  auto event = EventFd::create();
  ASSERT_TRUE(event);
  ASSERT_EQ(irqfd(event->fd(), 30), 0);
  ASSERT_EQ(set_routes({msi(40, 0x51)}), 0);
  ASSERT_TRUE(event->signal());
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u);
  EXPECT_EQ(injected[0].vector, 0);
  EXPECT_EQ(injected[0].entry, FakeRouteEntry::kHole);
}

// A count pending at assign is asserted by the slow path too: on a hole, as vector 0.
TEST_F(FakeMshvDriverTest, APendingCountOnAHoleAssertsVectorZeroAtAssign) {
  ASSERT_EQ(set_routes({msi(40, 0x51)}), 0);
  auto event = EventFd::create();
  ASSERT_TRUE(event);
  ASSERT_TRUE(event->signal());
  ASSERT_EQ(irqfd(event->fd(), 39), 0);
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u);
  EXPECT_EQ(injected[0].gsi, 39u);
  EXPECT_EQ(injected[0].vector, 0);
  EXPECT_TRUE(injected[0].at_assign);
  EXPECT_EQ(fake_.hole_signals(), 1u);
}

// On the root scheduler a wakeup first tries mshv_try_assert_irq_fast(), which checks no entry's
// validity: without any route it still sets vector 0 for the VP of APIC 0. A count pending at
// assign always takes the slow path, and so does a logical destination.
class FakeFastPathTest : public FakeMshvDriverTest {
 protected:
  FakeFastPathTest() : FakeMshvDriverTest(root_scheduler()) {}
  static FakeMshvOptions root_scheduler() {
    FakeMshvOptions options;
    options.root_scheduler = true;
    return options;
  }
};

TEST_F(FakeFastPathTest, AWakeupWithoutAnyRouteSetsVectorZeroOnApicZero) {
  UniqueFd vp = create_vp(0);
  ASSERT_TRUE(vp.valid());
  auto pending = EventFd::create();
  auto event = EventFd::create();
  ASSERT_TRUE(pending && event);
  ASSERT_TRUE(pending->signal());
  ASSERT_EQ(irqfd(pending->fd(), 50), 0);
  EXPECT_EQ(fake_.dropped(50), 1u) << "at assign: the slow path, which drops";
  ASSERT_EQ(irqfd(event->fd(), 51), 0);
  ASSERT_TRUE(event->signal());
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u);
  EXPECT_EQ(injected[0].gsi, 51u);
  EXPECT_EQ(injected[0].vector, 0);
  EXPECT_EQ(injected[0].apic_id, 0);
  EXPECT_EQ(injected[0].entry, FakeRouteEntry::kNone);
  EXPECT_TRUE(injected[0].fast_path);
  EXPECT_EQ(fake_.hole_signals(), 0u);
}

TEST_F(FakeFastPathTest, RoutedAndLogicalDestinations) {
  UniqueFd vp0 = create_vp(0);
  UniqueFd vp2 = create_vp(2);
  ASSERT_TRUE(vp0.valid() && vp2.valid());
  MshvUserIrqEntry logical = msi(41, 0x62);
  logical.address_lo |= 1u << 2;
  MshvUserIrqEntry to_vp2 = msi(40, 0x61);
  to_vp2.address_lo |= 2u << 12;
  ASSERT_EQ(set_routes({to_vp2, logical, msi(43, 0x63)}), 0);
  auto a = EventFd::create();
  auto b = EventFd::create();
  auto hole = EventFd::create();
  ASSERT_TRUE(a && b && hole);
  ASSERT_EQ(irqfd(a->fd(), 40), 0);
  ASSERT_EQ(irqfd(b->fd(), 41), 0);
  ASSERT_EQ(irqfd(hole->fd(), 42), 0);
  ASSERT_TRUE(a->signal());
  ASSERT_TRUE(b->signal());
  ASSERT_TRUE(hole->signal());
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 3u);
  EXPECT_EQ(injected[0].vector, 0x61);
  EXPECT_EQ(injected[0].apic_id, 2);
  EXPECT_TRUE(injected[0].fast_path);
  EXPECT_EQ(injected[1].vector, 0x62);
  EXPECT_FALSE(injected[1].fast_path) << "logical destinations take the hypercall";
  EXPECT_EQ(injected[2].vector, 0);
  EXPECT_EQ(injected[2].entry, FakeRouteEntry::kHole);
  EXPECT_TRUE(injected[2].fast_path);
  EXPECT_EQ(fake_.hole_signals(), 1u);
}

// Without a register page (an isolated partition) the fast path is not taken.
TEST(FakeFastPath, NeedsTheRegisterPage) {
  FakeMshvOptions options;
  options.root_scheduler = true;
  options.register_page = false;
  FakeMshvDriver fake(options);
  UniqueFd device(fake.open_device("/dev/mshv"));
  MshvCreatePartition create{kPtLapic | kPtX2apic, kPtIsolationNone};
  UniqueFd partition(fake.ioctl(device.get(), kMshvCreatePartition, &create));
  ASSERT_EQ(fake.ioctl(partition.get(), kMshvInitializePartition, nullptr), 0);
  MshvCreateVp vp{0};
  UniqueFd vp0(fake.ioctl(partition.get(), kMshvCreateVp, &vp));
  auto event = EventFd::create();
  ASSERT_TRUE(vp0.valid() && event);
  MshvUserIrqfd args{event->fd(), 0, 51, 0};
  ASSERT_EQ(fake.ioctl(partition.get(), kMshvIrqfd, &args), 0);
  ASSERT_TRUE(event->signal());
  EXPECT_TRUE(fake.injections().empty());
  EXPECT_EQ(fake.dropped(51), 1u);
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

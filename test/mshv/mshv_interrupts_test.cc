// Interrupt plumbing on MSHV with real eventfds: the routing table, the order that delivers and
// the KVM-era order that loses an interrupt, masking by deassigning, resampling, and ioeventfds
// (MMIO only).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/base/event_fd.h"
#include "ferry/irq/msi_route_table.h"
#include "mshv_backend_test.h"

namespace ferry::test {
namespace {

using namespace mshv;
using ::testing::HasSubstr;

// Stages one route and pushes the table: what an MsiBatch of one vector does at its commit.
Expected<void> commit_route(irq::MsiRouteTable& table, uint32_t gsi, uint64_t address,
                            uint32_t data) {
  FERRY_TRY(table.stage(gsi, address, data));
  return table.commit();
}

class MshvInterruptsTest : public MshvBackendTest {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(create_vm()); }

  static EventFd eventfd() {
    auto e = EventFd::create();
    EXPECT_TRUE(e);
    return std::move(*e);
  }
};

TEST_F(MshvInterruptsTest, TheTableIsCommittedWhole) {
  const accel::MsiRoute routes[] = {
      {4, 0xfee03000, 0x34}, {30, 0xfee00000, 0x41}, {31, 0xfee01004, 0x8042}};
  ASSERT_TRUE(vm_->set_msi_routes(routes));
  auto table = fake_.routes();
  ASSERT_EQ(table.size(), 3u);
  EXPECT_EQ(table[4].address_lo, 0xfee03000u) << "an IOAPIC pin's GSI takes a route too";
  EXPECT_EQ(table[31].address_lo, 0xfee01004u);
  EXPECT_EQ(table[31].data, 0x8042u);
  ASSERT_TRUE(vm_->set_msi_routes({routes, 1}));
  EXPECT_EQ(fake_.routes().size(), 1u);
  ASSERT_TRUE(vm_->set_msi_routes({}));
  EXPECT_TRUE(fake_.routes().empty());
}

TEST_F(MshvInterruptsTest, DeviceRoutesAreCheckedBeforeTheKernel) {
  fake_.clear_calls();
  const accel::MsiRoute beyond{4096, 0xfee00000, 0x41};
  auto set = vm_->set_msi_routes({&beyond, 1});
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code(), Errc::kNoResources);
  const accel::MsiRoute high{40, 0x1fee00000, 0x41};
  set = vm_->set_msi_routes({&high, 1});
  ASSERT_FALSE(set);
  EXPECT_THAT(set.error().message(), HasSubstr("32-bit MSI addresses"));
  const accel::MsiRoute twice[] = {{40, 0xfee00000, 1}, {40, 0xfee00000, 2}};
  EXPECT_FALSE(vm_->set_msi_routes(twice));
  EXPECT_TRUE(fake_.call_names().empty()) << "nothing reached the kernel";
}

// VFIO can fire before the route exists; on MSHV that interrupt is gone for good.
TEST_F(MshvInterruptsTest, TheKvmEraOrderLosesTheFirstInterrupt) {
  irq::MsiRouteTable routes(*vm_);
  auto gsi = routes.allocate();
  ASSERT_TRUE(gsi);
  EventFd vector = eventfd();
  ASSERT_TRUE(vm_->register_irqfd(vector.fd(), *gsi));
  ASSERT_TRUE(vector.signal());  // the device fires
  ASSERT_TRUE(commit_route(routes, *gsi, 0xfee00000, 0x45));
  EXPECT_TRUE(fake_.injections().empty());
  EXPECT_EQ(fake_.dropped(*gsi), 1u);
}

// An emulated device's order (ferry signals the eventfd itself); an assigned device's order, with
// VFIO's trigger first, is tested in mshv_passthrough_test.cc.
TEST_F(MshvInterruptsTest, AnEmulatedDevicesOrderDeliversEverySignal) {
  irq::MsiRouteTable routes(*vm_);
  auto gsi = routes.allocate();
  ASSERT_TRUE(gsi);
  EXPECT_GE(*gsi, 24u) << "GSIs 0-23 are the IOAPIC's";
  ASSERT_TRUE(commit_route(routes, *gsi, 0xfee02000, 0x45));  // commit the full table first
  EventFd vector = eventfd();
  ASSERT_TRUE(vm_->register_irqfd(vector.fd(), *gsi));  // then the irqfd
  ASSERT_TRUE(vector.signal());
  ASSERT_TRUE(vector.signal());
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 2u);
  EXPECT_EQ(injected[0].vector, 0x45);
  EXPECT_EQ(injected[0].apic_id, 2);
}

TEST_F(MshvInterruptsTest, MaskingByDeassignKeepsTheCountForTheUnmask) {
  irq::MsiRouteTable routes(*vm_);
  auto gsi = routes.allocate();
  ASSERT_TRUE(gsi);
  ASSERT_TRUE(commit_route(routes, *gsi, 0xfee00000, 0x46));
  EventFd vector = eventfd();
  ASSERT_TRUE(vm_->register_irqfd(vector.fd(), *gsi));
  ASSERT_TRUE(vm_->unregister_irqfd(vector.fd(), *gsi));  // mask: the route stays
  ASSERT_TRUE(vector.signal());
  EXPECT_TRUE(fake_.injections().empty());
  ASSERT_TRUE(vm_->register_irqfd(vector.fd(), *gsi));  // unmask: the pending count fires at once
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u);
  EXPECT_TRUE(injected[0].at_assign);
}

TEST_F(MshvInterruptsTest, OneEventfdOneGsi) {
  EventFd vector = eventfd();
  ASSERT_TRUE(vm_->register_irqfd(vector.fd(), 40));
  auto again = vm_->register_irqfd(vector.fd(), 41);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::kBusy);
  EXPECT_THAT(again.error().message(), HasSubstr("one GSI only"));
  auto beyond = vm_->register_irqfd(eventfd().fd(), 4096);
  ASSERT_FALSE(beyond);
  EXPECT_EQ(beyond.error().code(), Errc::kInvalidArgument);
}

TEST_F(MshvInterruptsTest, ResamplingNeedsALevelTriggeredRouteFirst) {
  EventFd trigger = eventfd();
  EventFd resample = eventfd();
  auto early = vm_->register_irqfd(trigger.fd(), 0x50, resample.fd());
  ASSERT_FALSE(early);
  EXPECT_THAT(early.error().message(), HasSubstr("commit the route first"));
  const accel::MsiRoute edge{0x50, 0xfee00000, 0x60};
  ASSERT_TRUE(vm_->set_msi_routes({&edge, 1}));
  EXPECT_FALSE(vm_->register_irqfd(trigger.fd(), 0x50, resample.fd()));
  const accel::MsiRoute level{0x50, 0xfee00000, 0x60 | 1u << 15};
  ASSERT_TRUE(vm_->set_msi_routes({&level, 1}));
  ASSERT_TRUE(vm_->register_irqfd(trigger.fd(), 0x50, resample.fd()));
  ASSERT_TRUE(trigger.signal());
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u);
  EXPECT_TRUE(injected[0].level);
}

TEST_F(MshvInterruptsTest, PortIoEventfdsAreRefusedByTheKernelAndSaidSo) {
  EventFd doorbell = eventfd();
  auto pio = vm_->register_ioeventfd({accel::IoSpace::kPio, 0xcfc, 4, std::nullopt, doorbell.fd()});
  ASSERT_FALSE(pio);
  EXPECT_EQ(pio.error().code(), Errc::kUnsupported);
  EXPECT_THAT(pio.error().message(), HasSubstr("no port-I/O ioeventfds"));
  const auto calls = fake_.calls();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back().name, "MSHV_IOEVENTFD");
  EXPECT_EQ(calls.back().result, -EOPNOTSUPP);
}

TEST_F(MshvInterruptsTest, MmioIoeventfds) {
  EventFd a = eventfd();
  EventFd b = eventfd();
  const accel::IoEventFd doorbell{accel::IoSpace::kMmio, 0xfe000000, 4, 7, a.fd()};
  ASSERT_TRUE(vm_->register_ioeventfd(doorbell));
  auto clash =
      vm_->register_ioeventfd({accel::IoSpace::kMmio, 0xfe000000, 4, std::nullopt, b.fd()});
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code(), Errc::kExists);
  auto odd = vm_->register_ioeventfd({accel::IoSpace::kMmio, 0xfe000000, 3, std::nullopt, b.fd()});
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().code(), Errc::kInvalidArgument);
  auto absent = vm_->unregister_ioeventfd({accel::IoSpace::kMmio, 0xfe000000, 4, 8, a.fd()});
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code(), Errc::kNotFound);
  ASSERT_TRUE(vm_->unregister_ioeventfd(doorbell));
  EXPECT_EQ(fake_.ioeventfd_count(), 0u);
}

TEST_F(MshvInterruptsTest, AGuestWriteToADoorbellSignalsWithoutAnExit) {
  const uint8_t code[] = {0xf4};
  ASSERT_NO_FATAL_FAILURE(boot(vmm::BootMode::kLong, code));
  EventFd doorbell = eventfd();
  ASSERT_TRUE(
      vm_->register_ioeventfd({accel::IoSpace::kMmio, 0xfe001000, 4, 0x1234, doorbell.fd()}));
  fake_.play(0, FakeGuestEvent::mmio_write(0xfe001000, 4, 0x1234));
  fake_.play(0, FakeGuestEvent::mmio_write(0xfe001000, 4, 0x1234));
  RecordingGuestIo io;
  EXPECT_EQ(run_until_stop(io).kind, accel::ExitKind::kHalt);
  EXPECT_TRUE(io.accesses().empty()) << "the VMM saw no exit for the doorbell writes";
  auto count = doorbell.drain();
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 2u);
}

}  // namespace
}  // namespace ferry::test

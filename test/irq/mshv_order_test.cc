// lib/irq on the MSHV backend, over the fake /dev/mshv in its passthrough mode (a HYPOTHESIS:
// a device interrupt is mapped when its irqfd is assigned while VFIO's trigger exists, with the
// route of that moment; docs/irq.md). The driver seam is a StrictMock that forwards to the fake,
// so a test can put MSHV_SET_MSI_ROUTING, MSHV_IRQFD and the trigger in one InSequence.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "fake_mshv_driver.h"
#include "ferry/irq/event_loop.h"
#include "ferry/irq/msi_batch.h"
#include "ferry/irq/msi_vector.h"
#include "ferry/mshv/mshv_abi.h"
#include "ferry/mshv/mshv_hypervisor.h"
#include "mock_trigger.h"
#include "mshv_backend_test.h"
#include "pairing_override_vm.h"

namespace ferry::test {
namespace {

using irq::MsiBatch;
using irq::MsiRouteTable;
using irq::MsiVector;
using mshv::kMshvIrqfd;
using mshv::kMshvSetMsiRouting;
using ::testing::_;
using ::testing::AnyNumber;
using ::testing::AnyOf;
using ::testing::Eq;
using ::testing::InSequence;
using ::testing::Invoke;
using ::testing::Not;
using ::testing::Return;
using ::testing::StrictMock;

constexpr uint64_t kApic1 = 0xfee01000;
constexpr uint64_t kApic2 = 0xfee02000;

class MockMshvDriver : public mshv::MshvDriver {
 public:
  MOCK_METHOD(int, open_device, (const char*), (override));
  MOCK_METHOD(int, ioctl, (int, unsigned long, void*), (override));
  MOCK_METHOD(Expected<Mapping>, map_vp_page, (int, size_t, unsigned), (override));
  MOCK_METHOD(mshv::CpuidRegs, host_cpuid, (uint32_t, uint32_t), (override));
};

// MSHV_IRQFD with or without the DEASSIGN flag.
MATCHER(Assigns, "") {
  return (static_cast<const mshv::MshvUserIrqfd*>(arg)->flags & mshv::kIrqfdDeassign) == 0;
}
MATCHER(Deassigns, "") {
  return (static_cast<const mshv::MshvUserIrqfd*>(arg)->flags & mshv::kIrqfdDeassign) != 0;
}

// VFIO_DEVICE_SET_IRQS for one vector, played by the fake.
class FakeVfioTrigger : public irq::VectorTrigger {
 public:
  explicit FakeVfioTrigger(FakeMshvDriver& fake, int* eventfd) : fake_(fake), eventfd_(eventfd) {}
  Expected<void> attach(int eventfd) override {
    fake_.vfio_set_trigger(eventfd);
    *eventfd_ = eventfd;
    return {};
  }
  Expected<void> detach() override { return {}; }  // the fake has no VFIO teardown to model

 private:
  FakeMshvDriver& fake_;
  int* eventfd_;
};

class MshvIrqOrderTest : public ::testing::Test {
 protected:
  MshvIrqOrderTest() : fake_(passthrough()) {}
  static FakeMshvOptions passthrough() {
    FakeMshvOptions options = fake_options_with_host_cpuid();
    options.passthrough = true;
    return options;
  }

  void SetUp() override {
    // Everything but the interrupt ioctls goes to the fake unchecked; those must be expected.
    EXPECT_CALL(driver_, open_device(_)).Times(AnyNumber()).WillRepeatedly(Invoke([this](auto p) {
      return fake_.open_device(p);
    }));
    EXPECT_CALL(driver_, ioctl(_, Not(AnyOf(Eq(kMshvIrqfd), Eq(kMshvSetMsiRouting))), _))
        .Times(AnyNumber())
        .WillRepeatedly(Invoke(&fake_, &FakeMshvDriver::ioctl));
    EXPECT_CALL(driver_, map_vp_page(_, _, _))
        .Times(AnyNumber())
        .WillRepeatedly(Invoke(&fake_, &FakeMshvDriver::map_vp_page));
    EXPECT_CALL(driver_, host_cpuid(_, _))
        .Times(AnyNumber())
        .WillRepeatedly(Invoke(&fake_, &FakeMshvDriver::host_cpuid));
    auto hypervisor = mshv::MshvHypervisor::open(driver_, "/dev/mshv", {});
    ASSERT_TRUE(hypervisor) << hypervisor.error().message();
    hypervisor_ = std::move(*hypervisor);
    auto vm = hypervisor_->create_vm({.vcpus = 1});
    ASSERT_TRUE(vm) << vm.error().message();
    vm_ = std::move(*vm);
    table_.emplace(*vm_);
  }
  void TearDown() override { vectors_.clear(); }

  // Lets the interrupt ioctls through without checking their order.
  void allow_interrupt_ioctls() {
    EXPECT_CALL(driver_, ioctl(_, AnyOf(Eq(kMshvIrqfd), Eq(kMshvSetMsiRouting)), _))
        .Times(AnyNumber())
        .WillRepeatedly(Invoke(&fake_, &FakeMshvDriver::ioctl));
  }
  auto forward() { return Invoke(&fake_, &FakeMshvDriver::ioctl); }

  // A vector an assigned device signals through VFIO; its eventfd lands in *eventfd.
  MsiVector& vfio_vector(int* eventfd) {
    vectors_.push_back(
        std::make_unique<MsiVector>(*table_, std::make_unique<FakeVfioTrigger>(fake_, eventfd)));
    return *vectors_.back();
  }
  MsiVector& emulated_vector() {
    vectors_.push_back(std::make_unique<MsiVector>(*table_));
    return *vectors_.back();
  }
  void program(MsiVector& v, uint64_t address, uint32_t data, bool masked) {
    MsiBatch batch(*table_);
    v.set_message(batch, address, data);
    v.set_masked(batch, masked);
    ASSERT_TRUE(batch.commit());
  }
  void set_masked(MsiVector& v, bool masked) {
    MsiBatch batch(*table_);
    v.set_masked(batch, masked);
    ASSERT_TRUE(batch.commit());
  }

  FakeMshvDriver fake_;
  StrictMock<MockMshvDriver> driver_;
  std::unique_ptr<accel::Hypervisor> hypervisor_;
  std::unique_ptr<accel::Vm> vm_;
  std::optional<MsiRouteTable> table_;
  std::vector<std::unique_ptr<MsiVector>> vectors_;
};

TEST_F(MshvIrqOrderTest, TheStrategyEmitsTriggerCommitIrqfdNeverQemusOrder) {
  auto trigger = std::make_unique<StrictMock<MockTrigger>>();
  auto& expect = *trigger;
  MsiVector vector(*table_, std::move(trigger));
  {
    InSequence order;  // QEMU's (commit, irqfd, trigger) or any other fails here
    EXPECT_CALL(expect, attach(_)).WillOnce(Invoke([this](int fd) {
      fake_.vfio_set_trigger(fd);
      return Expected<void>{};
    }));
    EXPECT_CALL(driver_, ioctl(_, kMshvSetMsiRouting, _)).WillOnce(forward());
    EXPECT_CALL(driver_, ioctl(_, kMshvIrqfd, Assigns())).WillOnce(forward());
  }
  program(vector, kApic1, 0x45, false);
  ::testing::Mock::VerifyAndClearExpectations(&expect);
  InSequence teardown;
  EXPECT_CALL(driver_, ioctl(_, kMshvIrqfd, Deassigns())).WillOnce(forward());
  EXPECT_CALL(driver_, ioctl(_, kMshvSetMsiRouting, _)).WillOnce(forward());
  EXPECT_CALL(expect, detach()).WillOnce(Return(Expected<void>{}));
}

TEST_F(MshvIrqOrderTest, CloudHypervisorsOrderDeliversTheDevicesInterrupts) {
  allow_interrupt_ioctls();
  int fd = -1;
  MsiVector& vector = vfio_vector(&fd);
  program(vector, kApic1, 0x45, false);
  fake_.vfio_interrupt(fd);
  fake_.vfio_interrupt(fd);
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 2u);
  EXPECT_TRUE(injected[0].device);
  EXPECT_EQ(injected[0].vector, 0x45);
  EXPECT_EQ(injected[0].apic_id, 1);
  EXPECT_EQ(fake_.lost_device_interrupts(), 0u);
}

TEST_F(MshvIrqOrderTest, QemusOrderLosesTheDevicesInterrupts) {
  allow_interrupt_ioctls();
  PairingOverrideVm wrong(*vm_, accel::IrqfdPairing::kWhenBothExist);  // QEMU's order on MSHV
  MsiRouteTable table(wrong);
  ASSERT_EQ(table.ordering().name, irq::kRouteFirst.name);
  int fd = -1;
  MsiVector vector(table, std::make_unique<FakeVfioTrigger>(fake_, &fd));
  {
    MsiBatch batch(table);
    vector.set_message(batch, kApic1, 0x45);
    vector.set_masked(batch, false);
  }
  fake_.vfio_interrupt(fd);
  fake_.vfio_interrupt(fd);
  EXPECT_TRUE(fake_.injections().empty());
  EXPECT_EQ(fake_.lost_device_interrupts(), 2u);
}

// Vector 24 masked while 25 is routed leaves a hole at 24: nothing may signal it.
TEST_F(MshvIrqOrderTest, AHoleGsiIsNeverSignalled) {
  allow_interrupt_ioctls();
  int fd = -1;
  MsiVector& low = vfio_vector(&fd);
  MsiVector& high = emulated_vector();
  {
    MsiBatch batch(*table_);
    low.set_message(batch, kApic1, 0x40);
    low.set_masked(batch, false);
    high.set_message(batch, kApic1, 0x41);
    high.set_masked(batch, false);
  }
  ASSERT_EQ(*low.gsi(), 24u);
  ASSERT_EQ(*high.gsi(), 25u);
  set_masked(low, true);
  fake_.vfio_interrupt(fd);
  fake_.vfio_interrupt(fd);
  EXPECT_EQ(fake_.hole_signals(), 0u);
  EXPECT_TRUE(fake_.injections().empty());
  set_masked(low, false);
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u) << "the count left while masked fires once at the re-assign";
  EXPECT_EQ(injected[0].vector, 0x40);
  EXPECT_EQ(fake_.hole_signals(), 0u);
}

TEST_F(MshvIrqOrderTest, ARetargetWhileLiveDeliversToTheNewVcpu) {
  allow_interrupt_ioctls();
  int fd = -1;
  MsiVector& vector = vfio_vector(&fd);
  program(vector, kApic1, 0x45, false);
  program(vector, kApic2, 0x46, false);
  fake_.vfio_interrupt(fd);
  ASSERT_EQ(vector.signal(), MsiVector::Signal::kSent);  // the VMM's own write, too
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 2u);
  for (const FakeInjection& i : injected) {
    EXPECT_EQ(i.apic_id, 2);
    EXPECT_EQ(i.vector, 0x46);
  }
  EXPECT_TRUE(injected[0].device);
}

TEST_F(MshvIrqOrderTest, TeardownDeassignsBeforeTheRouteLeavesTheTable) {
  allow_interrupt_ioctls();
  MsiVector& vector = emulated_vector();
  program(vector, kApic1, 0x45, false);
  {
    InSequence order;
    EXPECT_CALL(driver_, ioctl(_, kMshvIrqfd, Deassigns()))
        .WillOnce(Invoke([this](int f, auto r, void* a) {
          EXPECT_EQ(fake_.routes().count(24), 1u) << "the route left before the irqfd";
          EXPECT_EQ(::fcntl(static_cast<mshv::MshvUserIrqfd*>(a)->fd, F_GETFD) != -1, true)
              << "the eventfd was closed before the deassign";
          return fake_.ioctl(f, r, a);
        }));
    EXPECT_CALL(driver_, ioctl(_, kMshvSetMsiRouting, _)).WillOnce(forward());
  }
  vectors_.clear();
  EXPECT_TRUE(fake_.routes().empty());
  EXPECT_EQ(fake_.irqfds().size(), 0u);
  EXPECT_EQ(fake_.hole_signals(), 0u);
}

// What the order above prevents: with the eventfd closed first the kernel has already detached
// the irqfd, and the deassign names a closed fd (EBADF).
TEST_F(MshvIrqOrderTest, ClosingTheEventfdBeforeTheDeassignIsCaught) {
  allow_interrupt_ioctls();
  auto created = EventFd::create();
  ASSERT_TRUE(created);
  std::optional<EventFd> eventfd(std::move(*created));
  const int fd = eventfd->fd();
  ASSERT_TRUE(vm_->set_msi_routes(std::vector<accel::MsiRoute>{{24, kApic1, 0x45}}));
  ASSERT_TRUE(vm_->register_irqfd(fd, 24));
  eventfd.reset();
  EXPECT_EQ(fake_.irqfds().size(), 0u) << "the close detached the irqfd";
  auto deassign = vm_->unregister_irqfd(fd, 24);
  ASSERT_FALSE(deassign);
  EXPECT_EQ(deassign.error().sys_errno(), EBADF);
}

TEST_F(MshvIrqOrderTest, MaskTwoDeviceInterruptsUnmaskDeliversExactlyOne) {
  allow_interrupt_ioctls();
  int fd = -1;
  MsiVector& vector = vfio_vector(&fd);
  program(vector, kApic1, 0x45, false);
  set_masked(vector, true);
  fake_.vfio_interrupt(fd);
  fake_.vfio_interrupt(fd);
  EXPECT_TRUE(fake_.injections().empty());
  set_masked(vector, false);
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u);
  EXPECT_TRUE(injected[0].at_assign);
  EXPECT_EQ(fake_.lost_device_interrupts(), 0u);
}

TEST_F(MshvIrqOrderTest, MaskTwoEmulatedSignalsUnmaskDeliversExactlyOne) {
  allow_interrupt_ioctls();
  MsiVector& vector = emulated_vector();
  program(vector, kApic1, 0x45, false);
  set_masked(vector, true);
  EXPECT_EQ(vector.signal(), MsiVector::Signal::kPending);
  EXPECT_EQ(vector.signal(), MsiVector::Signal::kPending);
  set_masked(vector, false);
  EXPECT_EQ(fake_.injections().size(), 1u);
  EXPECT_FALSE(vector.pending());
}

// With the event loop watching a masked vector's eventfd, the device's interrupts set the
// pending (PBA) bit the guest can read, and the unmask sends exactly one.
TEST_F(MshvIrqOrderTest, WithTheEventLoopMaskedDeviceInterruptsSetThePendingBitAndSendOne) {
  allow_interrupt_ioctls();
  auto loop = irq::EventLoop::start();
  ASSERT_TRUE(loop) << loop.error().message();
  MsiRouteTable table(*vm_, loop->get());
  int fd = -1;
  MsiVector vector(table, std::make_unique<FakeVfioTrigger>(fake_, &fd));
  auto change = [&](bool masked) {
    MsiBatch batch(table);
    vector.set_message(batch, kApic1, 0x45);
    vector.set_masked(batch, masked);
    ASSERT_TRUE(batch.commit());
  };
  change(false);
  change(true);
  EXPECT_FALSE(vector.pending());
  fake_.vfio_interrupt(fd);
  fake_.vfio_interrupt(fd);
  for (int waited = 0; !vector.pending() && waited < 5000; ++waited) ::usleep(1000);
  ASSERT_TRUE(vector.pending()) << "the loop did not see the device's interrupt";
  EXPECT_TRUE(fake_.injections().empty());
  change(false);
  EXPECT_FALSE(vector.pending());
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u);
  EXPECT_EQ(injected[0].vector, 0x45);
  EXPECT_EQ(fake_.hole_signals(), 0u);
}

// The kernel resets the counter at deassign: a count injected at one assign is not replayed.
TEST_F(MshvIrqOrderTest, AssignWithAPendingCountThenDeassignAndReassignDeliversOne) {
  allow_interrupt_ioctls();
  int fd = -1;
  MsiVector& vector = vfio_vector(&fd);
  program(vector, kApic1, 0x45, true);  // masked: no trigger yet
  program(vector, kApic1, 0x45, false);
  set_masked(vector, true);
  fake_.vfio_interrupt(fd);  // a count on the eventfd
  set_masked(vector, false);
  set_masked(vector, true);
  set_masked(vector, false);
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u);
  EXPECT_TRUE(injected[0].at_assign);
}

}  // namespace
}  // namespace ferry::test

// VFIO interrupts on MSHV under the fake's passthrough HYPOTHESIS (FakeMshvOptions::passthrough;
// /work/shared/docs/mshv-abi.md, "VFIO interrupts on MSHV: the order"): a device interrupt is
// mapped when its irqfd is assigned while VFIO's trigger exists, with the route of that moment.
// Cloud Hypervisor's order (trigger, route, irqfd) delivers; QEMU's (route, irqfd, trigger) loses
// device interrupts. The fake's VFIO calls stand for VFIO_DEVICE_SET_IRQS and the device.
#include <gtest/gtest.h>

#include "ferry/base/event_fd.h"
#include "ferry/irq/msi_route_table.h"
#include "mshv_backend_test.h"

namespace ferry::test {
namespace {

// Stages one route and pushes the table: what an MsiBatch of one vector does at its commit.
Expected<void> commit_route(irq::MsiRouteTable& table, uint32_t gsi, uint64_t address,
                            uint32_t data) {
  FERRY_TRY(table.stage(gsi, address, data));
  return table.commit();
}

FakeMshvOptions with_passthrough(bool passthrough) {
  FakeMshvOptions options = fake_options_with_host_cpuid();
  options.passthrough = passthrough;
  return options;
}

class VfioInterruptsTest : public MshvBackendTest {
 protected:
  explicit VfioInterruptsTest(bool passthrough = true)
      : MshvBackendTest(with_passthrough(passthrough)) {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(create_vm());
    routes_.emplace(*vm_);
    auto gsi = routes_->allocate();
    ASSERT_TRUE(gsi);
    gsi_ = *gsi;
  }

  static EventFd eventfd() {
    auto e = EventFd::create();
    EXPECT_TRUE(e);
    return std::move(*e);
  }

  std::optional<irq::MsiRouteTable> routes_;
  uint32_t gsi_ = 0;
};

TEST_F(VfioInterruptsTest, CloudHypervisorsOrderDelivers) {
  EventFd vector = eventfd();
  fake_.vfio_set_trigger(vector.fd());
  ASSERT_TRUE(commit_route(*routes_, gsi_, 0xfee01000, 0x45));
  ASSERT_TRUE(vm_->register_irqfd(vector.fd(), gsi_));
  fake_.vfio_interrupt(vector.fd());
  fake_.vfio_interrupt(vector.fd());
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 2u);
  EXPECT_EQ(injected[0].vector, 0x45);
  EXPECT_EQ(injected[0].apic_id, 1);
  EXPECT_TRUE(injected[0].device);
  EXPECT_EQ(fake_.lost_device_interrupts(), 0u);
}

TEST_F(VfioInterruptsTest, QemusOrderLosesDeviceInterrupts) {
  EventFd vector = eventfd();
  ASSERT_TRUE(commit_route(*routes_, gsi_, 0xfee01000, 0x45));
  ASSERT_TRUE(vm_->register_irqfd(vector.fd(), gsi_));
  fake_.vfio_set_trigger(vector.fd());
  fake_.vfio_interrupt(vector.fd());
  fake_.vfio_interrupt(vector.fd());
  EXPECT_TRUE(fake_.injections().empty());
  EXPECT_EQ(fake_.lost_device_interrupts(), 2u);
  ASSERT_TRUE(vector.signal()) << "an emulated signal: the VMM's own write";
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u) << "emulated signals go through the irqfd as before";
  EXPECT_FALSE(injected[0].device);
}

// The mapping keeps the route of the assign; the retarget recipe (deassign, commit, re-assign)
// maps it again. While no irqfd is assigned (masked), VFIO signals the eventfd, and the count
// fires at the re-assign.
TEST_F(VfioInterruptsTest, AMappingIsNotRetargetedByARoutingChange) {
  EventFd vector = eventfd();
  fake_.vfio_set_trigger(vector.fd());
  ASSERT_TRUE(commit_route(*routes_, gsi_, 0xfee01000, 0x45));
  ASSERT_TRUE(vm_->register_irqfd(vector.fd(), gsi_));
  ASSERT_TRUE(commit_route(*routes_, gsi_, 0xfee02000, 0x46));
  fake_.vfio_interrupt(vector.fd());
  ASSERT_TRUE(vector.signal());
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 2u);
  EXPECT_EQ(injected[0].vector, 0x45) << "the device still goes where the assign mapped it";
  EXPECT_EQ(injected[1].vector, 0x46) << "an emulated signal takes the new route";
  fake_.clear_injections();

  ASSERT_TRUE(vm_->unregister_irqfd(vector.fd(), gsi_));
  fake_.vfio_interrupt(vector.fd());
  EXPECT_TRUE(fake_.injections().empty());
  ASSERT_TRUE(vm_->register_irqfd(vector.fd(), gsi_));
  fake_.vfio_interrupt(vector.fd());
  injected = fake_.injections();
  ASSERT_EQ(injected.size(), 2u);
  EXPECT_TRUE(injected[0].at_assign) << "the count VFIO left while masked";
  EXPECT_EQ(injected[1].vector, 0x46);
  EXPECT_TRUE(injected[1].device);
}

// Without the hypothesis VFIO always signals the eventfd, and QEMU's order delivers (the fake's
// behaviour before the passthrough mode, and KVM's).
class VfioWithoutPassthroughTest : public VfioInterruptsTest {
 protected:
  VfioWithoutPassthroughTest() : VfioInterruptsTest(false) {}
};

TEST_F(VfioWithoutPassthroughTest, QemusOrderDelivers) {
  EventFd vector = eventfd();
  ASSERT_TRUE(commit_route(*routes_, gsi_, 0xfee01000, 0x45));
  ASSERT_TRUE(vm_->register_irqfd(vector.fd(), gsi_));
  fake_.vfio_set_trigger(vector.fd());
  fake_.vfio_interrupt(vector.fd());
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u);
  EXPECT_EQ(injected[0].vector, 0x45);
  EXPECT_FALSE(injected[0].device);
  EXPECT_EQ(fake_.lost_device_interrupts(), 0u);
}

}  // namespace
}  // namespace ferry::test

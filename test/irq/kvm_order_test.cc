// lib/irq on the KVM backend, against a StrictMock of KvmSys: the order the KVM strategy emits
// (route commit, irqfd, trigger) and that KvmVm takes the MSHV order as well. KVM pairs an
// assigned device's interrupt with its irqfd in either order (virt/lib/irqbypass.c, kernel
// fact); these tests cover ferry's side of the seam, not the kernel's.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/kvm.h>

#include "ferry/irq/msi_batch.h"
#include "ferry/irq/msi_vector.h"
#include "kvm_abi.h"
#include "kvm_vm.h"
#include "mock_trigger.h"
#include "pairing_override_vm.h"

namespace ferry::kvm {
namespace {

using test::MockTrigger;
using ::testing::_;
using ::testing::InSequence;
using ::testing::Invoke;
using ::testing::Return;
using ::testing::StrictMock;

constexpr int kKvmFd = 1000;  // never used as a real fd: every ioctl goes to the mock

class MockKvmSys : public KvmSys {
 public:
  MOCK_METHOD(int, open_device, (const char*), (override));
  MOCK_METHOD(int, ioctl, (int, unsigned long, void*), (override));
  MOCK_METHOD(Expected<Mapping>, map, (int, size_t, off_t), (override));
};

MATCHER(Assigns, "") {
  return (static_cast<const kvm_irqfd*>(arg)->flags & KVM_IRQFD_FLAG_DEASSIGN) == 0;
}
MATCHER(Deassigns, "") {
  return (static_cast<const kvm_irqfd*>(arg)->flags & KVM_IRQFD_FLAG_DEASSIGN) != 0;
}

class KvmIrqOrderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const int vm_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // KvmVm owns and closes it
    ASSERT_GE(vm_fd, 0);
    {
      InSequence creation;
      EXPECT_CALL(sys_, ioctl(kKvmFd, KVM_CREATE_VM, _)).WillOnce(Return(vm_fd));
      EXPECT_CALL(sys_, ioctl(vm_fd, KVM_SET_TSS_ADDR, _)).WillOnce(Return(0));
      EXPECT_CALL(sys_, ioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, _)).WillOnce(Return(0));
      EXPECT_CALL(sys_, ioctl(vm_fd, KVM_ENABLE_CAP, _)).WillOnce(Return(0));
    }
    auto vm = KvmVm::create(sys_, kKvmFd, 4096, 1, 4096);
    ASSERT_TRUE(vm) << vm.error().message();
    vm_ = std::move(*vm);
    vm_fd_ = vm_fd;
  }

  // Brings a vector with a mocked trigger live through `table`, expecting `steps` in order.
  template <class Steps>
  void go_live(irq::MsiRouteTable& table, Steps steps) {
    auto trigger = std::make_unique<StrictMock<MockTrigger>>();
    auto& expect = *trigger;
    irq::MsiVector vector(table, std::move(trigger));
    {
      InSequence order;
      steps(expect);
    }
    {
      irq::MsiBatch batch(table);
      vector.set_message(batch, 0xfee00000, 0x45);
      vector.set_masked(batch, false);
      ASSERT_TRUE(batch.commit());
    }
    EXPECT_TRUE(vector.live());
    InSequence teardown;
    EXPECT_CALL(sys_, ioctl(vm_fd_, KVM_IRQFD, Deassigns())).WillOnce(Return(0));
    EXPECT_CALL(sys_, ioctl(vm_fd_, kKvmSetGsiRouting, _)).WillOnce(Return(0));
    EXPECT_CALL(expect, detach()).WillOnce(Return(Expected<void>{}));
  }

  StrictMock<MockKvmSys> sys_;
  std::unique_ptr<KvmVm> vm_;
  int vm_fd_ = -1;
};

TEST_F(KvmIrqOrderTest, TheKvmStrategyCommitsThenAssignsThenAttachesTheTrigger) {
  irq::MsiRouteTable table(*vm_);
  EXPECT_EQ(table.ordering().name, irq::kRouteFirst.name);
  go_live(table, [&](MockTrigger& trigger) {
    EXPECT_CALL(sys_, ioctl(vm_fd_, kKvmSetGsiRouting, _)).WillOnce(Return(0));
    EXPECT_CALL(sys_, ioctl(vm_fd_, KVM_IRQFD, Assigns())).WillOnce(Return(0));
    EXPECT_CALL(trigger, attach(_)).WillOnce(Return(Expected<void>{}));
  });
}

TEST_F(KvmIrqOrderTest, KvmTakesTheMshvOrderToo) {
  test::PairingOverrideVm mshv_order(*vm_, accel::IrqfdPairing::kAtAssign);
  irq::MsiRouteTable table(mshv_order);
  EXPECT_EQ(table.ordering().name, irq::kTriggerFirst.name);
  go_live(table, [&](MockTrigger& trigger) {
    EXPECT_CALL(trigger, attach(_)).WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(sys_, ioctl(vm_fd_, kKvmSetGsiRouting, _)).WillOnce(Return(0));
    EXPECT_CALL(sys_, ioctl(vm_fd_, KVM_IRQFD, Assigns())).WillOnce(Return(0));
  });
}

}  // namespace
}  // namespace ferry::kvm

// The same assignment on an accelerator with KVM's pairing (a recording Vm): a vector going live
// meets the hypervisor route first, then the irqfd, then VFIO's trigger (QEMU's order), and the
// release is the same one order as on MSHV.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_vfio.h"
#include "fake_vfio_guest.h"
#include "fake_vfio_recording_vm.h"
#include "ferry/base/units.h"
#include "ferry/vfio/assignment.h"

namespace ferry::test {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::StartsWith;

class KvmAssignmentTest : public ::testing::Test {
 protected:
  KvmAssignmentTest()
      : vm_(journal_), vfio_(journaling([this](std::string e) { journal_.add(std::move(e)); })) {}

  void SetUp() override {
    auto ram = Mapping::anonymous(64 * kKiB);
    ASSERT_TRUE(ram) << ram.error().message();
    ram_ = std::move(*ram);
    auto assignment = vfio::Assignment::create(
        vm_, {{.gpa = 0, .size = ram_.size(), .host = ram_.data()}}, vfio_);
    ASSERT_TRUE(assignment) << assignment.error().message();
    assignment_ = std::move(*assignment);
    auto device = assignment_->assign("0000:01:00.0", 12, routes_, {mmio_, pio_, kTestWindows});
    ASSERT_TRUE(device) << device.error().message();
    device_ = std::move(*device);
    guest_.emplace(*device_, mmio_, &journal_);
  }
  std::vector<std::string> since(int mark) const {
    const auto all = journal_.entries();
    return {all.begin() + mark, all.end()};
  }

  FakeJournal journal_;
  RecordingVm vm_;
  FakeVfio vfio_;
  irq::MsiRouteTable routes_{vm_};
  bus::Bus mmio_{"mmio"};
  bus::Bus pio_{"port"};
  Mapping ram_;
  std::unique_ptr<vfio::Assignment> assignment_;
  std::shared_ptr<vfio::AssignedDevice> device_;
  std::optional<FakeLinuxGuest> guest_;
};

// Linux enables MSI-X with every vector masked, then enables the device (the NVMe driver creates
// its admin queue there), then unmasks. QEMU's NVMe claims a queue's vector only if MSI-X is on
// when the queue is created, so the device's enable bit must follow the guest's at once: a late
// enable (at the first unmask) left the admin queue of an L2 Linux without interrupts.
TEST_F(KvmAssignmentTest, TheDevicesMsixEnableFollowsTheGuests) {
  guest_->enable_memory_and_bus_master();
  guest_->enable_msix(2);
  EXPECT_TRUE(vfio_.nvme().msix_enabled()) << "enabled in the guest, every entry masked\n"
                                           << journal_.dump();
  EXPECT_EQ(vfio_.nvme().trigger_of(0), -1) << "no vector is live yet";
  guest_->unmask(0);
  const int live = vfio_.nvme().trigger_of(0);
  EXPECT_GE(live, 0);
  // Disabled in the guest: off on the device too; enabled again, the vector's eventfd is back.
  guest_->disable_msix();
  EXPECT_FALSE(vfio_.nvme().msix_enabled()) << journal_.dump();
  guest_->enable_msix(2);
  EXPECT_TRUE(vfio_.nvme().msix_enabled()) << journal_.dump();
  EXPECT_EQ(vfio_.nvme().trigger_of(0), live) << journal_.dump();
  EXPECT_TRUE(vfio_.fire(0)) << journal_.dump();
}

TEST_F(KvmAssignmentTest, EachVectorGoesLiveRouteFirstThenIrqfdThenTrigger) {
  guest_->enable_memory_and_bus_master();
  guest_->enable_msix(2);
  int mark = journal_.size();
  guest_->unmask(0);
  EXPECT_THAT(since(mark), ElementsAre(StartsWith("guest: unmask v0"),
                                       StartsWith("KVM SET_GSI_ROUTING 1 routes"),
                                       StartsWith("KVM IRQFD assign"),
                                       StartsWith("VFIO SET_IRQS MSI-X 0..0 trigger [v0]")))
      << journal_.dump(mark);
  mark = journal_.size();
  guest_->unmask(1);
  EXPECT_THAT(since(mark), ElementsAre(StartsWith("guest: unmask v1"),
                                       StartsWith("KVM SET_GSI_ROUTING 2 routes"),
                                       StartsWith("KVM IRQFD assign"),
                                       StartsWith("VFIO SET_IRQS MSI-X 1..1 trigger [v1]")))
      << journal_.dump(mark);
  EXPECT_TRUE(vfio_.fire(0));
  EXPECT_TRUE(vfio_.fire(1));
}

TEST_F(KvmAssignmentTest, ReleaseTakesEverythingDownInTheOneOrder) {
  guest_->enable_memory_and_bus_master();
  guest_->enable_msix(2);
  guest_->unmask(0);
  const int mark = journal_.size();
  guest_.reset();
  device_.reset();
  assignment_.reset();
  const std::vector<std::string> order{
      "KVM IRQFD deassign",          "KVM SET_GSI_ROUTING 0 routes",
      "VFIO SET_IRQS MSI-X disable", "KVM unmap gpa 0xc0000000",
      "VFIO DEVICE_RESET",           "close VFIO device",
      "KVM VFIO FILE_DEL",           "VFIO UNMAP_DMA 0x0+0x10000",
      "close VFIO group 12",         "close VFIO container"};
  int previous = mark - 1;
  for (const std::string& step : order) {
    const int now = journal_.find(step, mark);
    EXPECT_GT(now, previous) << step << " is out of order:\n" << journal_.dump(mark);
    previous = now;
  }
  EXPECT_THAT(vfio_.rule_violations(), IsEmpty());
  EXPECT_EQ(vfio_.open_fds(), 0u);
  EXPECT_THAT(vm_.bridged(), IsEmpty());
}

}  // namespace
}  // namespace ferry::test

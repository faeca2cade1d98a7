// How an assigned device is reset at attach and at release: VFIO_DEVICE_RESET when it has a
// function-level reset; else the bus hot reset, only when the VM holds every IOMMU group that
// reset would hit; else no reset at all, and a note at start that names the groups missing. The
// same reset serves the guest's Secondary Bus Reset of the device's root port.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_vfio.h"
#include "fake_vfio_guest.h"
#include "fake_vfio_recording_vm.h"
#include "ferry/base/units.h"
#include "ferry/pci/config_regs.h"
#include "ferry/pci/root_port.h"
#include "ferry/vfio/assignment.h"

namespace ferry::test {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// One NVMe in group 12 on a recording KVM-like Vm, with the fake's reset options as given.
class AssignmentResetTest : public ::testing::Test {
 protected:
  void assign(bool flr, std::optional<unsigned> bus_shared_with_group = {}) {
    FakeVfioOptions options = journaling([this](std::string e) { journal_.add(std::move(e)); });
    options.flr = flr;
    options.bus_shared_with_group = bus_shared_with_group;
    vfio_.emplace(options);
    auto ram = Mapping::anonymous(64 * kKiB);
    ASSERT_TRUE(ram) << ram.error().message();
    ram_ = std::move(*ram);
    auto assignment = vfio::Assignment::create(
        vm_, {{.gpa = 0, .size = ram_.size(), .host = ram_.data()}}, *vfio_);
    ASSERT_TRUE(assignment) << assignment.error().message();
    assignment_ = std::move(*assignment);
    auto device = assignment_->assign("0000:01:00.0", 12, routes_, {mmio_, pio_, kTestWindows});
    ASSERT_TRUE(device) << device.error().message();
    device_ = std::move(*device);
    attached_ = journal_.size();
    // The guest maps BAR 0, so the release has a BAR to take out of the guest before the reset.
    FakeLinuxGuest(*device_, mmio_, &journal_).enable_memory_and_bus_master();
  }
  void release() {
    released_from_ = journal_.size();
    device_.reset();
    assignment_.reset();
  }
  // Entries starting with `prefix` in [from, to).
  size_t count(const std::string& prefix, int from, int to) const {
    const auto all = journal_.entries();
    size_t n = 0;
    for (int i = from; i < to; ++i) n += all[i].rfind(prefix, 0) == 0;
    return n;
  }
  void expect_reset_at_attach_and_release(const std::string& reset) {
    const int device_fd = journal_.find("VFIO GET_DEVICE_FD 0000:01:00.0");
    ASSERT_GE(device_fd, 0) << journal_.dump();
    EXPECT_EQ(count(reset, device_fd, attached_), 1u) << "at attach:\n" << journal_.dump();
    release();
    const std::vector<std::string> order{"KVM unmap gpa 0xc0000000", reset, "close VFIO device",
                                         "close VFIO group 12"};
    int previous = released_from_ - 1;
    for (const std::string& step : order) {
      const int now = journal_.find(step, released_from_);
      EXPECT_GT(now, previous) << step << " is out of order:\n" << journal_.dump(released_from_);
      previous = now;
    }
    EXPECT_EQ(count(reset, released_from_, journal_.size()), 1u) << journal_.dump(released_from_);
    EXPECT_THAT(vfio_->rule_violations(), IsEmpty());
    EXPECT_EQ(vfio_->open_fds(), 0u);
  }

  FakeJournal journal_;
  RecordingVm vm_{journal_};
  std::optional<FakeVfio> vfio_;
  irq::MsiRouteTable routes_{vm_};
  bus::Bus mmio_{"mmio"};
  bus::Bus pio_{"port"};
  Mapping ram_;
  std::unique_ptr<vfio::Assignment> assignment_;
  std::shared_ptr<vfio::AssignedDevice> device_;
  int attached_ = 0;
  int released_from_ = 0;
};

TEST_F(AssignmentResetTest, WithFlrTheDeviceIsResetWithDeviceResetAtAttachAndRelease) {
  assign(/*flr=*/true);
  expect_reset_at_attach_and_release("VFIO DEVICE_RESET");
  EXPECT_EQ(journal_.count("VFIO PCI_HOT_RESET"), 0u) << journal_.dump();
}

TEST_F(AssignmentResetTest, WithoutFlrItsOwnBusIsHotResetWithItsGroupAtAttachAndRelease) {
  assign(/*flr=*/false);
  expect_reset_at_attach_and_release("VFIO PCI_HOT_RESET groups [12]");
  EXPECT_EQ(journal_.count("VFIO DEVICE_RESET"), 0u) << journal_.dump();
  EXPECT_EQ(journal_.count("VFIO PCI_HOT_RESET ->"), 0u) << journal_.dump();
}

TEST_F(AssignmentResetTest, WithoutFlrABusSharedWithAGroupTheVmLacksIsNotResetAndTheNoteSaysSo) {
  assign(/*flr=*/false, /*bus_shared_with_group=*/13);
  EXPECT_THAT(device_->notes(),
              Contains(AllOf(HasSubstr("no function-level reset"), HasSubstr("IOMMU group 13 "),
                             HasSubstr("not assigned to this VM"),
                             HasSubstr("not reset at start or exit"))));
  release();
  // Not tried either: no reset ioctl at attach or at release, refused or not.
  EXPECT_EQ(journal_.count("VFIO DEVICE_RESET"), 0u) << journal_.dump();
  EXPECT_EQ(journal_.count("VFIO PCI_HOT_RESET"), 0u) << journal_.dump();
  EXPECT_EQ(journal_.count("close VFIO device"), 1u);
  EXPECT_THAT(vfio_->rule_violations(), IsEmpty());
  EXPECT_EQ(vfio_->open_fds(), 0u);
}

// Set, held (written again), cleared, set again: the hardware is reset at each rising edge.
void pulse_secondary_bus_reset_twice(pci::RootPort& port) {
  port.config_write(pci::kBridgeControl, 2, pci::kBridgeControlSecondaryReset);
  port.config_write(pci::kBridgeControl, 2, pci::kBridgeControlSecondaryReset);
  port.config_write(pci::kBridgeControl, 2, 0);
  port.config_write(pci::kBridgeControl, 2, pci::kBridgeControlSecondaryReset);
  port.config_write(pci::kBridgeControl, 2, 0);
}

TEST_F(AssignmentResetTest, TheGuestsSecondaryBusResetResetsTheDeviceBelowItsPortAndKeepsItsSetup) {
  assign(/*flr=*/true);
  auto port = std::make_unique<pci::RootPort>(1, 1, pci::PortWindows{}, device_);
  const int before = journal_.size();
  pulse_secondary_bus_reset_twice(*port);
  const int after = journal_.size();
  EXPECT_EQ(count("VFIO DEVICE_RESET", before, after), 2u) << journal_.dump(before);
  EXPECT_EQ(device_->guest_resets(), 2u);
  // The host kernel restores the device around the reset: ferry's BAR mappings, routes and
  // eventfds stay as they were.
  EXPECT_EQ(count("KVM", before, after), 0u) << journal_.dump(before);
  EXPECT_EQ(count("VFIO SET_IRQS", before, after), 0u) << journal_.dump(before);
  port.reset();
  expect_reset_at_attach_and_release("VFIO DEVICE_RESET");
}

TEST_F(AssignmentResetTest, WithoutFlrTheGuestsSecondaryBusResetIsTheHotResetOfItsGroup) {
  assign(/*flr=*/false);
  pci::RootPort port(1, 1, pci::PortWindows{}, device_);
  const int before = journal_.size();
  pulse_secondary_bus_reset_twice(port);
  EXPECT_EQ(count("VFIO PCI_HOT_RESET groups [12]", before, journal_.size()), 2u)
      << journal_.dump(before);
  EXPECT_EQ(device_->guest_resets(), 2u);
}

TEST_F(AssignmentResetTest, ADeviceFerryCannotResetIsNotResetByTheGuestEither) {
  assign(/*flr=*/false, /*bus_shared_with_group=*/13);
  pci::RootPort port(1, 1, pci::PortWindows{}, device_);
  const int before = journal_.size();
  pulse_secondary_bus_reset_twice(port);
  EXPECT_EQ(count("VFIO", before, journal_.size()), 0u) << journal_.dump(before);
  EXPECT_EQ(device_->guest_resets(), 0u);
}

}  // namespace
}  // namespace ferry::test

// An NVMe assigned on the MSHV backend, end to end over two fakes: FakeVfio for /dev/vfio and the
// fake /dev/mshv (with its VFIO bridge and the passthrough hypothesis: a device interrupt is
// mapped when its irqfd is assigned while VFIO's trigger exists). A guest drives the device as
// Linux does, and one journal holds every operation of both fakes in order, so the tests can
// say what comes before what: on MSHV, VFIO's trigger before the route commit before the irqfd.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "fake_eventfd.h"
#include "fake_mshv_driver.h"
#include "fake_vfio.h"
#include "fake_vfio_guest.h"
#include "ferry/base/units.h"
#include "ferry/irq/event_loop.h"
#include "ferry/mshv/mshv_abi.h"
#include "ferry/mshv/mshv_hypervisor.h"
#include "ferry/vfio/assignment.h"
#include "mshv_backend_test.h"

namespace ferry::test {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::StartsWith;

uint64_t inode_of(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

// The fake /dev/mshv with what the VMM asks of it written to the journal.
class JournalingMshvDriver final : public mshv::MshvDriver {
 public:
  JournalingMshvDriver(FakeMshvDriver& fake, FakeJournal& journal)
      : fake_(fake), journal_(journal) {
    watch_ = watch_closes([this](int fd) {
      if (fd == partition_fd_ && inode_of(fd) == partition_inode_) {
        journal_.add("close MSHV partition");
      }
    });
  }
  ~JournalingMshvDriver() override { unwatch_closes(watch_); }

  int open_device(const char* path) override { return fake_.open_device(path); }
  Expected<Mapping> map_vp_page(int fd, size_t size, unsigned page) override {
    return fake_.map_vp_page(fd, size, page);
  }
  mshv::CpuidRegs host_cpuid(uint32_t leaf, uint32_t subleaf) override {
    return fake_.host_cpuid(leaf, subleaf);
  }
  int ioctl(int fd, unsigned long request, void* arg) override {
    const std::string what = describe(request, arg);
    const int r = fake_.ioctl(fd, request, arg);
    if (request == mshv::kMshvCreatePartition && r >= 0) {
      partition_fd_ = r;
      partition_inode_ = inode_of(r);
    }
    if (!what.empty()) journal_.add(r < 0 ? fmt::format("{} -> {}", what, r) : what);
    return r;
  }

 private:
  static std::string describe(unsigned long request, void* arg) {
    using namespace mshv;
    switch (request) {
      case kMshvSetMsiRouting:
        return fmt::format("MSHV SET_MSI_ROUTING {} routes",
                           static_cast<const MshvUserIrqTable*>(arg)->nr);
      case kMshvIrqfd: {
        const auto* irqfd = static_cast<const MshvUserIrqfd*>(arg);
        return fmt::format("MSHV IRQFD {} gsi {}",
                           irqfd->flags & kIrqfdDeassign ? "deassign" : "assign", irqfd->gsi);
      }
      case kMshvSetGuestMemory: {
        const auto* m = static_cast<const MshvUserMemRegion*>(arg);
        return fmt::format("MSHV {} gpa {:#x}+{:#x}", m->flags & kMemUnmap ? "unmap" : "map",
                           m->guest_pfn << 12, m->size);
      }
      case kMshvCreateDevice:
        return "MSHV CREATE_DEVICE vfio";
      case kMshvSetDeviceAttr:
        return fmt::format("MSHV SET_DEVICE_ATTR {}",
                           static_cast<const MshvDeviceAttr*>(arg)->attr == kMshvDevVfioFileAdd
                               ? "FILE_ADD"
                               : "FILE_DEL");
      default:
        return "";
    }
  }

  FakeMshvDriver& fake_;
  FakeJournal& journal_;
  int watch_ = 0;
  int partition_fd_ = -1;
  uint64_t partition_inode_ = 0;
};

FakeMshvOptions bridge_and_passthrough() {
  FakeMshvOptions options = fake_options_with_host_cpuid();
  options.vfio_device = true;
  options.passthrough = true;
  return options;
}

class MshvAssignmentTest : public ::testing::Test {
 protected:
  MshvAssignmentTest()
      : mshv_(bridge_and_passthrough()), driver_(mshv_, journal_), vfio_(options()) {}

  FakeVfioOptions options() {
    FakeVfioOptions o = journaling([this](std::string e) { journal_.add(std::move(e)); });
    o.on_trigger = [this](int fd) { mshv_.vfio_set_trigger(fd); };
    o.on_fire = [this](int fd) { mshv_.vfio_interrupt(fd); };
    return o;
  }

  void SetUp() override {
    auto hypervisor = mshv::MshvHypervisor::open(driver_, "/dev/mshv", {});
    ASSERT_TRUE(hypervisor) << hypervisor.error().message();
    hypervisor_ = std::move(*hypervisor);
    auto vm = hypervisor_->create_vm({.vcpus = 1});
    ASSERT_TRUE(vm) << vm.error().message();
    vm_ = std::move(*vm);
    auto loop = irq::EventLoop::start();
    ASSERT_TRUE(loop) << loop.error().message();
    loop_ = std::move(*loop);
    routes_.emplace(*vm_, loop_.get());
    auto ram = Mapping::anonymous(64 * kKiB);
    ASSERT_TRUE(ram) << ram.error().message();
    ram_ = std::move(*ram);
    auto assignment = vfio::Assignment::create(
        *vm_, {{.gpa = 0, .size = ram_.size(), .host = ram_.data()}}, vfio_);
    ASSERT_TRUE(assignment) << assignment.error().message();
    assignment_ = std::move(*assignment);
    auto device = assignment_->assign("0000:01:00.0", 12, *routes_, {mmio_, pio_, kTestWindows});
    ASSERT_TRUE(device) << device.error().message();
    device_ = std::move(*device);
    guest_.emplace(*device_, mmio_, &journal_);
  }

  // The journal entries from `mark` on.
  std::vector<std::string> since(int mark) const {
    const auto all = journal_.entries();
    return {all.begin() + mark, all.end()};
  }
  size_t injections_of(uint8_t vector) {
    size_t n = 0;
    for (const FakeInjection& i : mshv_.injections()) n += i.vector == vector;
    return n;
  }
  bool wait_pending(unsigned vector) {
    for (int i = 0; i < 2000; ++i) {
      if (guest_->pending(vector)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }
  // Everything goes, in the order a VM's end takes it: the assignment, then the partition.
  void tear_down() {
    guest_.reset();
    device_.reset();
    assignment_.reset();
    routes_.reset();
    loop_.reset();
    vm_.reset();
    hypervisor_.reset();
  }

  FakeJournal journal_;
  FakeMshvDriver mshv_;
  JournalingMshvDriver driver_;
  FakeVfio vfio_;
  bus::Bus mmio_{"mmio"};
  bus::Bus pio_{"port"};
  std::unique_ptr<mshv::MshvHypervisor> hypervisor_;
  std::unique_ptr<accel::Vm> vm_;
  std::unique_ptr<irq::EventLoop> loop_;
  std::optional<irq::MsiRouteTable> routes_;
  Mapping ram_;
  std::unique_ptr<vfio::Assignment> assignment_;
  std::shared_ptr<vfio::AssignedDevice> device_;
  std::optional<FakeLinuxGuest> guest_;
};

TEST_F(MshvAssignmentTest, GuestRamIsDmaMappedAndTheGroupBridgedBeforeTheDeviceIsTaken) {
  const int map_dma = journal_.find("VFIO MAP_DMA 0x0+0x10000");
  const int file_add = journal_.find("MSHV SET_DEVICE_ATTR FILE_ADD");
  const int device_fd = journal_.find("VFIO GET_DEVICE_FD 0000:01:00.0");
  ASSERT_GE(map_dma, 0) << journal_.dump();
  EXPECT_GT(file_add, map_dma) << journal_.dump();
  EXPECT_GT(device_fd, file_add) << journal_.dump();
  EXPECT_EQ(mshv_.bridged_groups().size(), 1u);
  EXPECT_EQ(vfio_.dma_maps().size(), 1u);
}

TEST_F(MshvAssignmentTest, TheGuestsBarIsTheFakesMappingInThePartition) {
  guest_->enable_memory_and_bus_master();
  // BAR0's first 8 KiB are memory; the MSI-X table and PBA pages stay trapped.
  ASSERT_EQ(vfio_.bar_maps().size(), 1u);
  const auto [host, size] = vfio_.bar_maps()[0];
  EXPECT_EQ(size, 0x2000u);
  bool found = false;
  for (const FakeRegion& r : mshv_.regions()) {
    if (r.gpa != FakeLinuxGuest::kBar0) continue;
    found = true;
    EXPECT_EQ(r.host, reinterpret_cast<uint64_t>(host));
    EXPECT_EQ(r.size, 0x2000u);
  }
  EXPECT_TRUE(found) << journal_.dump();
  // What the guest stores through the mapping is what the device (its BAR) holds.
  static_cast<volatile uint32_t*>(const_cast<void*>(host))[5] = 0xfeedf00d;
  EXPECT_EQ(guest_->read32(0x14), 0xfeedf00du);
  EXPECT_THAT(vfio_.rule_violations(), IsEmpty());
}

TEST_F(MshvAssignmentTest, EachVectorGoesLiveTriggerFirstThenRouteThenIrqfd) {
  guest_->enable_memory_and_bus_master();
  int mark = journal_.size();
  guest_->enable_msix(2);
  // The device's MSI-X goes on with the guest's, with no vector live.
  EXPECT_THAT(since(mark),
              ::testing::Contains(StartsWith("VFIO SET_IRQS MSI-X enable 65 trigger []")))
      << journal_.dump(mark);
  EXPECT_EQ(journal_.find("MSHV SET_MSI_ROUTING"), -1)
      << "nothing is live while every entry is masked";
  mark = journal_.size();
  guest_->unmask(0);
  EXPECT_THAT(since(mark), ElementsAre(StartsWith("guest: unmask v0"),
                                       StartsWith("VFIO SET_IRQS MSI-X 0..0 trigger [v0]"),
                                       StartsWith("MSHV SET_MSI_ROUTING 1 routes"),
                                       StartsWith("MSHV IRQFD assign")))
      << journal_.dump(mark);
  mark = journal_.size();
  guest_->unmask(1);
  EXPECT_THAT(since(mark), ElementsAre(StartsWith("guest: unmask v1"),
                                       StartsWith("VFIO SET_IRQS MSI-X 1..1 trigger [v1]"),
                                       StartsWith("MSHV SET_MSI_ROUTING 2 routes"),
                                       StartsWith("MSHV IRQFD assign")))
      << journal_.dump(mark);
  // The hypervisor mapped both device interrupts: each arrives, none is lost.
  EXPECT_TRUE(vfio_.fire(0));
  EXPECT_TRUE(vfio_.fire(1));
  EXPECT_EQ(injections_of(FakeLinuxGuest::idt_vector(0)), 1u);
  EXPECT_EQ(injections_of(FakeLinuxGuest::idt_vector(1)), 1u);
  EXPECT_EQ(mshv_.lost_device_interrupts(), 0u);
}

TEST_F(MshvAssignmentTest, AMaskedVectorsInterruptSetsThePbaBitAndIsDeliveredOnceAtUnmask) {
  guest_->enable_memory_and_bus_master();
  guest_->enable_msix(2);
  guest_->unmask(0);
  guest_->unmask(1);
  int mark = journal_.size();
  guest_->mask(1);
  EXPECT_THAT(since(mark), ::testing::Contains(StartsWith("MSHV IRQFD deassign")))
      << journal_.dump(mark);
  EXPECT_EQ(journal_.find("VFIO SET_IRQS", mark), -1) << "masking keeps VFIO's trigger";
  EXPECT_FALSE(guest_->pending(1));
  ASSERT_TRUE(vfio_.fire(1));
  ASSERT_TRUE(wait_pending(1)) << "the PBA bit never came up";
  EXPECT_FALSE(guest_->pending(0));
  EXPECT_EQ(injections_of(FakeLinuxGuest::idt_vector(1)), 0u);
  mark = journal_.size();
  guest_->unmask(1);
  EXPECT_EQ(journal_.find("MSHV IRQFD assign", mark), journal_.find_last("MSHV IRQFD assign"));
  EXPECT_EQ(injections_of(FakeLinuxGuest::idt_vector(1)), 1u);
  EXPECT_FALSE(guest_->pending(1));
  EXPECT_EQ(injections_of(FakeLinuxGuest::idt_vector(1)), 1u);  // once, not again
}

TEST_F(MshvAssignmentTest, ReleaseTakesEverythingDownInTheOneOrderAndBeforeThePartitionCloses) {
  guest_->enable_memory_and_bus_master();
  guest_->enable_msix(2);
  guest_->unmask(0);
  guest_->unmask(1);
  ASSERT_TRUE(vfio_.fire(0));
  ASSERT_TRUE(vfio_.fire(1));
  guest_->mask(1);
  ASSERT_TRUE(vfio_.fire(1));
  ASSERT_TRUE(wait_pending(1));
  guest_->unmask(1);
  EXPECT_EQ(injections_of(FakeLinuxGuest::idt_vector(1)), 2u);
  const int mark = journal_.size();
  tear_down();
  std::cout << "the whole journal:\n" << journal_.dump();
  auto at = [&](const std::string& prefix) { return journal_.find(prefix, mark); };
  // The vectors go as one batch: every irqfd first, then the table without their routes, then
  // VFIO's triggers (the last one turns MSI-X off).
  const int last_deassign = journal_.find_last("MSHV IRQFD deassign");
  const int routes = at("MSHV SET_MSI_ROUTING 0 routes");
  const int trigger0 = at("VFIO SET_IRQS MSI-X 0..0 trigger []");
  const int msix_off = at("VFIO SET_IRQS MSI-X disable");
  EXPECT_EQ(at("MSHV IRQFD deassign"), mark);
  EXPECT_EQ(journal_.find("MSHV IRQFD deassign", mark + 1), last_deassign);
  EXPECT_EQ(last_deassign, mark + 1);
  EXPECT_LT(last_deassign, routes);
  EXPECT_LT(routes, trigger0);
  EXPECT_LT(trigger0, msix_off);
  // Then the BAR leaves the guest, the device is reset and closed, the group leaves the bridge,
  // DMA is unmapped, the group and the container close; the partition closes last.
  const std::vector<std::string> order{
      "MSHV unmap gpa 0xc0000000",     "VFIO DEVICE_RESET",          "close VFIO device",
      "MSHV SET_DEVICE_ATTR FILE_DEL", "VFIO UNMAP_DMA 0x0+0x10000", "close VFIO group 12",
      "close VFIO container",          "close MSHV partition"};
  int previous = msix_off;
  for (const std::string& step : order) {
    const int now = at(step);
    EXPECT_GT(now, previous) << step << " is out of order:\n" << journal_.dump(mark);
    previous = now;
  }
  EXPECT_THAT(vfio_.rule_violations(), IsEmpty());
  EXPECT_THAT(mshv_.rule_violations(), IsEmpty());
  EXPECT_EQ(vfio_.open_fds(), 0u);
  EXPECT_THAT(vfio_.dma_maps(), IsEmpty());
}

// The fake's bridge itself: MSHV_SET_DEVICE_ATTR as kvm_vfio_set_file() answers, and the rule
// that no group is left on it when the partition closes.
TEST(MshvVfioBridgeFake, AddsOnceDeletesWhatWasAddedAndCatchesAPartitionClosedUnderAGroup) {
  FakeMshvDriver fake(bridge_and_passthrough());
  auto hypervisor = mshv::MshvHypervisor::open(fake, "/dev/mshv", {});
  ASSERT_TRUE(hypervisor) << hypervisor.error().message();
  auto vm = (*hypervisor)->create_vm({.vcpus = 1});
  ASSERT_TRUE(vm) << vm.error().message();
  auto bridge = (*vm)->create_vfio_bridge();
  ASSERT_TRUE(bridge) << bridge.error().message();
  const UniqueFd group(::memfd_create("group", MFD_CLOEXEC));
  EXPECT_TRUE((*bridge)->add_group(group.get()));
  auto twice = (*bridge)->add_group(group.get());
  ASSERT_FALSE(twice);
  EXPECT_THAT(twice.error().message(), ::testing::HasSubstr("VFIO_FILE_ADD"));
  EXPECT_TRUE((*bridge)->remove_group(group.get()));
  EXPECT_FALSE((*bridge)->remove_group(group.get()));  // ENOENT
  EXPECT_FALSE((*bridge)->add_group(-1));              // EBADF
  EXPECT_TRUE((*bridge)->add_group(group.get()));
  EXPECT_THAT(fake.bridged_groups(), ElementsAre(group.get()));
  bridge->reset();
  EXPECT_THAT(fake.rule_violations(), IsEmpty()) << "the device fd may close first";
  vm->reset();
  EXPECT_THAT(fake.rule_violations(),
              ElementsAre(::testing::HasSubstr("still added to its bridge")));
}

}  // namespace
}  // namespace ferry::test

// The fake's own rules, so that a test passing over it means something: each rule lib/vfio
// relies on is refused here when broken. Also the group-busy case through vfio::Group.
#include "fake_vfio.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/vfio.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>

#include "ferry/vfio/group.h"

namespace ferry::test {
namespace {

using ::testing::HasSubstr;

class FakeVfioTest : public ::testing::Test {
 protected:
  int container() {
    const int fd = fake_.open("/dev/vfio/vfio");
    EXPECT_GE(fd, 0);
    return fd;
  }
  int group() {
    const int fd = fake_.open("/dev/vfio/12");
    EXPECT_GE(fd, 0);
    return fd;
  }
  int set_container(int group, int container) {
    return fake_.ioctl(group, VFIO_GROUP_SET_CONTAINER, &container);
  }
  int set_iommu(int container) {
    return fake_.ioctl(container, VFIO_SET_IOMMU, reinterpret_cast<void*>(VFIO_TYPE1v2_IOMMU));
  }
  int map(int container, uint64_t iova, uint64_t size) {
    vfio_iommu_type1_dma_map m{.argsz = sizeof m,
                               .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
                               .vaddr = 0x7f0000000000,
                               .iova = iova,
                               .size = size};
    return fake_.ioctl(container, VFIO_IOMMU_MAP_DMA, &m);
  }
  int unmap(int container, uint64_t iova, uint64_t size) {
    vfio_iommu_type1_dma_unmap u{.argsz = sizeof u, .flags = 0, .iova = iova, .size = size};
    return fake_.ioctl(container, VFIO_IOMMU_UNMAP_DMA, &u);
  }
  // A container with the group in it and the IOMMU set; the device fd.
  int device(int& c, int& g) {
    c = container();
    g = group();
    EXPECT_EQ(set_container(g, c), 0);
    EXPECT_EQ(set_iommu(c), 0);
    char bdf[] = "0000:01:00.0";
    return fake_.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, bdf);
  }
  int set_msix(int device, uint32_t flags, uint32_t start, std::vector<int32_t> fds,
               uint32_t count) {
    std::vector<uint8_t> buffer(sizeof(vfio_irq_set) + fds.size() * 4);
    auto* set = reinterpret_cast<vfio_irq_set*>(buffer.data());
    set->argsz = static_cast<uint32_t>(buffer.size());
    set->flags = flags | VFIO_IRQ_SET_ACTION_TRIGGER;
    set->index = VFIO_PCI_MSIX_IRQ_INDEX;
    set->start = start;
    set->count = count;
    std::memcpy(set->data, fds.data(), fds.size() * 4);
    return fake_.ioctl(device, VFIO_DEVICE_SET_IRQS, set);
  }

  FakeVfio fake_;
};

TEST_F(FakeVfioTest, TheIommuTypeWaitsForAGroupAndDmaForTheIommu) {
  const int c = container();
  EXPECT_EQ(fake_.ioctl(c, VFIO_GET_API_VERSION, nullptr), VFIO_API_VERSION);
  EXPECT_EQ(fake_.ioctl(c, VFIO_CHECK_EXTENSION, reinterpret_cast<void*>(VFIO_TYPE1v2_IOMMU)), 1);
  EXPECT_EQ(set_iommu(c), -EINVAL);
  EXPECT_EQ(map(c, 0, 0x1000), -EINVAL);
  const int g = group();
  char bdf[] = "0000:01:00.0";
  EXPECT_EQ(fake_.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, bdf), -EINVAL);
  EXPECT_EQ(set_container(g, c), 0);
  EXPECT_EQ(set_container(g, c), -EINVAL);
  EXPECT_EQ(set_iommu(c), 0);
  EXPECT_EQ(set_iommu(c), -EINVAL);
  ::close(g);
  ::close(c);
}

TEST_F(FakeVfioTest, DmaMapsNeverOverlapAndUnmapTakesWholeMapsOnly) {
  int c = -1, g = -1;
  ::close(device(c, g));
  EXPECT_EQ(map(c, 0x0, 0x10000), 0);
  EXPECT_EQ(map(c, 0x8000, 0x10000), -EEXIST);
  EXPECT_EQ(map(c, 0x10000, 0x1000), 0);
  EXPECT_EQ(unmap(c, 0x0, 0x8000), -EINVAL);  // would split the first
  EXPECT_EQ(fake_.dma_maps().size(), 2u);
  EXPECT_EQ(unmap(c, 0x0, 0x10000), 0);
  EXPECT_EQ(fake_.dma_maps().size(), 1u);
  ::close(g);
  ::close(c);
}

TEST_F(FakeVfioTest, AnUnknownDeviceIsEnodevAndClosingTheGroupUnderItsDeviceIsRecorded) {
  int c = -1, g = -1;
  const int d = device(c, g);
  ASSERT_GE(d, 0);
  char other[] = "0000:02:00.0";
  EXPECT_EQ(fake_.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, other), -ENODEV);
  EXPECT_TRUE(fake_.rule_violations().empty());
  ::close(g);
  ::close(d);
  ::close(c);
  EXPECT_THAT(fake_.rule_violations(), ::testing::ElementsAre(HasSubstr("closed while")));
  EXPECT_EQ(fake_.open_fds(), 0u);
}

TEST_F(FakeVfioTest, AnEnabledMsixIndexDoesNotGrowAndDisablesWithCountZero) {
  int c = -1, g = -1;
  const int d = device(c, g);
  const int e0 = ::eventfd(0, EFD_CLOEXEC), e1 = ::eventfd(0, EFD_CLOEXEC);
  EXPECT_EQ(set_msix(d, VFIO_IRQ_SET_DATA_EVENTFD, 0, {e0}, 1), 0);  // enables 1 vector
  EXPECT_EQ(fake_.nvme().enabled_vectors(), 1u);
  EXPECT_EQ(set_msix(d, VFIO_IRQ_SET_DATA_EVENTFD, 1, {e1}, 1), -EINVAL);   // before 6.5
  EXPECT_EQ(set_msix(d, VFIO_IRQ_SET_DATA_EVENTFD, 64, {e1}, 2), -EINVAL);  // beyond 65
  EXPECT_EQ(set_msix(d, VFIO_IRQ_SET_DATA_NONE, 0, {}, 0), 0);
  EXPECT_FALSE(fake_.nvme().msix_enabled());
  EXPECT_EQ(set_msix(d, VFIO_IRQ_SET_DATA_NONE, 0, {}, 0), -EINVAL);  // nothing to disable
  EXPECT_EQ(set_msix(d, VFIO_IRQ_SET_DATA_EVENTFD, 0, {-1, e1}, 2), 0);
  EXPECT_EQ(set_msix(d, VFIO_IRQ_SET_DATA_EVENTFD, 0, {c}, 1), -EINVAL);  // not an eventfd
  // A device without MSI: VFIO offers no MSI vectors to enable beside MSI-X.
  vfio_irq_set msi{.argsz = sizeof msi,
                   .flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
                   .index = VFIO_PCI_MSI_IRQ_INDEX,
                   .start = 0,
                   .count = 0};
  EXPECT_EQ(fake_.ioctl(d, VFIO_DEVICE_SET_IRQS, &msi), -EINVAL);
  EXPECT_EQ(set_msix(d, VFIO_IRQ_SET_DATA_NONE, 0, {}, 0), 0);
  for (int fd : {d, g, c, e0, e1}) ::close(fd);
}

TEST_F(FakeVfioTest, FireSignalsTheVectorsEventfdOnlyWithBusMasteringOn) {
  int c = -1, g = -1;
  const int d = device(c, g);
  const int e = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  EXPECT_EQ(set_msix(d, VFIO_IRQ_SET_DATA_EVENTFD, 0, {-1, e}, 2), 0);
  EXPECT_FALSE(fake_.fire(1));  // the command register still has bus mastering off
  const uint16_t command = 0x6;
  ASSERT_EQ(fake_.pwrite(d, &command, 2, static_cast<off_t>(FakeVfioNvme::region_offset(7) + 4)),
            2);
  EXPECT_FALSE(fake_.fire(0));  // no trigger
  EXPECT_TRUE(fake_.fire(1));
  uint64_t count = 0;
  EXPECT_EQ(::read(e, &count, sizeof count), 8);
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(set_msix(d, VFIO_IRQ_SET_DATA_NONE, 0, {}, 0), 0);
  for (int fd : {d, g, c, e}) ::close(fd);
}

TEST_F(FakeVfioTest, ASecondOpenOfAHeldGroupIsBusy) {
  auto first = vfio::Group::open(fake_, 12);
  ASSERT_TRUE(first) << first.error().message();
  auto second = vfio::Group::open(fake_, 12);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Errc::kBusy);
  EXPECT_THAT(second.error().message(), HasSubstr("busy"));
}

TEST_F(FakeVfioTest, AGroupAnotherProcessHoldsIsBusy) {
  fake_.hold_group_elsewhere(true);
  auto group = vfio::Group::open(fake_, 12);
  ASSERT_FALSE(group);
  EXPECT_EQ(group.error().code(), Errc::kBusy);
  EXPECT_THAT(group.error().message(), HasSubstr("IOMMU group 12 (/dev/vfio/12) is busy"));
}

TEST_F(FakeVfioTest, ANonViableGroupIsRefused) {
  FakeVfioOptions options;
  options.viable = false;
  FakeVfio fake(options);
  auto group = vfio::Group::open(fake, 12);
  ASSERT_FALSE(group);
  EXPECT_THAT(group.error().message(), HasSubstr("not viable"));
  EXPECT_EQ(fake.open_fds(), 0u);
}

// The bus hot reset's rules: the info call says how many devices (ENOSPC when short), the reset
// needs an fd of every group listed, and a device without FLR refuses VFIO_DEVICE_RESET.
TEST(FakeVfioHotResetTest, TheResetNeedsAGroupFdForEveryGroupTheInfoLists) {
  for (const bool shared : {false, true}) {
    SCOPED_TRACE(shared ? "a bus shared with group 13" : "a bus of its own");
    FakeVfioOptions options;
    options.flr = false;
    if (shared) options.bus_shared_with_group = 13;
    FakeVfio fake(options);
    const int c = fake.open("/dev/vfio/vfio");
    const int g = fake.open("/dev/vfio/12");
    ASSERT_EQ(fake.ioctl(g, VFIO_GROUP_SET_CONTAINER, const_cast<int*>(&c)), 0);
    ASSERT_EQ(fake.ioctl(c, VFIO_SET_IOMMU, reinterpret_cast<void*>(VFIO_TYPE1v2_IOMMU)), 0);
    char bdf[] = "0000:01:00.0";
    const int d = fake.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, bdf);
    ASSERT_GE(d, 0);
    vfio_device_info info{};
    info.argsz = sizeof info;
    ASSERT_EQ(fake.ioctl(d, VFIO_DEVICE_GET_INFO, &info), 0);
    EXPECT_EQ(info.flags & VFIO_DEVICE_FLAGS_RESET, 0u);
    EXPECT_EQ(fake.ioctl(d, VFIO_DEVICE_RESET, nullptr), -EINVAL);

    const uint32_t devices = shared ? 2 : 1;
    std::vector<uint8_t> buffer(sizeof(vfio_pci_hot_reset_info) +
                                2 * sizeof(vfio_pci_dependent_device));
    auto* hot = reinterpret_cast<vfio_pci_hot_reset_info*>(buffer.data());
    hot->argsz = sizeof *hot;
    EXPECT_EQ(fake.ioctl(d, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, hot), -ENOSPC);
    EXPECT_EQ(hot->count, devices);
    hot->argsz = static_cast<uint32_t>(buffer.size());
    ASSERT_EQ(fake.ioctl(d, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, hot), 0);
    ASSERT_EQ(hot->count, devices);
    EXPECT_EQ(hot->devices[0].group_id, 12u);
    if (shared) {
      EXPECT_EQ(hot->devices[1].group_id, 13u);
    }

    auto reset = [&](std::vector<int32_t> fds) {
      std::vector<uint8_t> b(sizeof(vfio_pci_hot_reset) + fds.size() * sizeof(int32_t));
      auto* r = reinterpret_cast<vfio_pci_hot_reset*>(b.data());
      r->argsz = static_cast<uint32_t>(b.size());
      r->count = static_cast<uint32_t>(fds.size());
      std::memcpy(r->group_fds, fds.data(), fds.size() * sizeof(int32_t));
      return fake.ioctl(d, VFIO_DEVICE_PCI_HOT_RESET, r);
    };
    EXPECT_EQ(reset({}), -EINVAL);                // no group at all
    EXPECT_EQ(reset({c}), -EINVAL);               // not a group fd
    EXPECT_EQ(reset({g, g, g}), -EINVAL);         // more fds than devices
    EXPECT_EQ(reset({g}), shared ? -EINVAL : 0);  // group 13 is not covered
    for (int fd : {d, g, c}) ::close(fd);
    EXPECT_THAT(fake.rule_violations(), ::testing::IsEmpty());
  }
}

}  // namespace
}  // namespace ferry::test

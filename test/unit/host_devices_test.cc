// The vfio entries of a spec judged against a captured host (the lab's sysfs tree): the verdict
// `ferry check` gives, and the IOMMU limits that then bound the guest's BARs and RAM.
#include "ferry/vmm/host_devices.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "ferry/base/units.h"
#include "support/temp_dir.h"

namespace ferry::vmm {
namespace {

using ::testing::HasSubstr;

const std::string kLabSysfs = std::string(FERRY_SOURCE_DIR) + "/test/fixtures/sysfs/lab-q35";

VmConfig with_host_device(const std::string& bdf, uint64_t memory = 64 * kMiB) {
  VmConfig config;
  config.memory_size = memory;
  config.devices.push_back({.type = DeviceType::kVfio, .slot = std::nullopt, .host_bdf = bdf});
  return config;
}

TEST(HostDevices, AnAssignableDeviceGivesItsGroupAndItsIommuLimits) {
  auto plan = check_host_devices(with_host_device("0000:01:00.0"), 40, kLabSysfs);
  ASSERT_TRUE(plan) << plan.error().message();
  ASSERT_EQ(plan->devices.size(), 1u);
  EXPECT_EQ(plan->devices[0].bdf, "0000:01:00.0");
  EXPECT_EQ(plan->devices[0].entry, 0u);
  ASSERT_FALSE(plan->iommu.reserved.empty());
  EXPECT_EQ(plan->iommu.reserved[0].base, 0xfee00000u);  // the MSI window
  EXPECT_EQ(plan->iommu.reserved[0].size, kMiB);
  ASSERT_TRUE(plan->iommu.address_bits.has_value());
  EXPECT_LT(*plan->iommu.address_bits, 64u);
}

TEST(HostDevices, NoVfioEntryReadsNothing) {
  VmConfig config;
  auto plan = check_host_devices(config, 40, "/nonexistent");
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_TRUE(plan->devices.empty());
}

TEST(HostDevices, ANonViableGroupIsRefusedWithItsFix) {
  auto plan = check_host_devices(with_host_device("0000:05:01.0"), 40, kLabSysfs);
  ASSERT_FALSE(plan);
  EXPECT_THAT(plan.error().message(),
              HasSubstr("devices[0] (vfio 0000:05:01.0): the host device is not assignable; "
                        "nothing was changed on the host:\n  group: IOMMU group"));
  EXPECT_THAT(plan.error().message(),
              HasSubstr("echo 0000:05:02.0 > /sys/bus/pci/drivers/vfio-pci/bind"));
  EXPECT_THAT(plan.error().message(), HasSubstr("ferry check 0000:05:01.0"));
}

TEST(HostDevices, AMissingDeviceSaysWhereToLook) {
  auto plan = check_host_devices(with_host_device("0000:09:00.0"), 40, kLabSysfs);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code(), Errc::kNotFound);
  EXPECT_THAT(plan.error().message(), HasSubstr("no PCI device 0000:09:00.0"));
}

// A copy of the hand-made multi-GPU tree (test/fixtures/README.md) in which the RTX 3090's audio
// function 0000:61:00.1 has been handed to vfio-pci too, so its group 60 is viable.
std::string gpu_host_with_audio_on_vfio(const test::TempDir& dir) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(dir.path()) / "sysfs";
  fs::copy(std::string(FERRY_SOURCE_DIR) + "/test/fixtures/sysfs/multi-gpu", root,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  const fs::path link = root / "devices/pci0000:60/0000:60:01.1/0000:61:00.1/driver";
  fs::remove(link);
  fs::create_symlink("../../../../bus/pci/drivers/vfio-pci", link);
  return root.string();
}

VmConfig with_host_devices(const std::vector<std::string>& bdfs) {
  VmConfig config = with_host_device(bdfs.front());
  for (size_t i = 1; i < bdfs.size(); ++i) {
    config.devices.push_back(
        {.type = DeviceType::kVfio, .slot = std::nullopt, .host_bdf = bdfs[i]});
  }
  return config;
}

TEST(HostDevices, AGroupIsAssignedWholeOrRefusedNamingTheMembersLeftOut) {
  test::TempDir dir;
  const std::string host = gpu_host_with_audio_on_vfio(dir);
  auto alone = check_host_devices(with_host_device("0000:61:00.0"), 40, host);
  ASSERT_FALSE(alone);
  EXPECT_EQ(alone.error().code(), Errc::kInvalidArgument);
  EXPECT_THAT(alone.error().message(),
              HasSubstr("devices[0] (vfio 0000:61:00.0): IOMMU group 60 also holds 0000:61:00.1, "
                        "and VFIO gives a group to one VM whole; add it to devices (- vfio: "
                        "0000:61:00.1)"));
  auto whole = check_host_devices(with_host_devices({"0000:61:00.0", "0000:61:00.1"}), 40, host);
  ASSERT_TRUE(whole) << whole.error().message();
  ASSERT_EQ(whole->devices.size(), 2u);
  EXPECT_EQ(whole->devices[0].group, 60u);
  EXPECT_EQ(whole->devices[1].group, 60u);
}

TEST(HostDevices, SeveralGroupsInOneVmGiveEachReservedRegionOnce) {
  test::TempDir dir;
  auto plan = check_host_devices(with_host_devices({"0000:41:00.0", "0000:61:00.0", "61:00.1"}), 40,
                                 gpu_host_with_audio_on_vfio(dir));
  ASSERT_TRUE(plan) << plan.error().message();
  ASSERT_EQ(plan->devices.size(), 3u);
  EXPECT_EQ(plan->devices[2].bdf, "0000:61:00.1");  // written without its domain in the spec
  EXPECT_EQ(plan->devices[0].group, 40u);
  // Groups 40 and 60 both reserve the MSI window: it is listed once.
  ASSERT_EQ(plan->iommu.reserved.size(), 1u);
  EXPECT_EQ(plan->iommu.reserved[0].base, 0xfee00000u);
  EXPECT_EQ(plan->iommu.address_bits, 48u);
}

// --- vfio.backend: which VFIO path the plan takes (docs/vfio.md) ------------------------------

// The lab's tree as a kernel with iommufd would show it: class/misc/iommu (/dev/iommu), and
// 01:00.0's cdev under vfio-dev/ when `cdev` is set.
std::string lab_tree_with_iommufd(const ferry::test::TempDir& dir, bool cdev) {
  namespace fs = std::filesystem;
  const std::string root = dir.path() + "/sys";
  fs::copy(kLabSysfs, root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::create_directories(root + "/class/misc/iommu");
  if (cdev) fs::create_directories(root + "/bus/pci/devices/0000:01:00.0/vfio-dev/vfio0");
  return root;
}

TEST(HostDevicesVfioPath, AutoTakesTheLegacyContainerOnAKernelWithoutIommufd) {
  auto plan = check_host_devices(with_host_device("0000:01:00.0"), 40, kLabSysfs);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_FALSE(plan->iommufd);
  EXPECT_THAT(plan->why, HasSubstr("this kernel has no iommufd"));
}

TEST(HostDevicesVfioPath, IommufdAskedOfAKernelWithoutItIsRefusedNamingTheFix) {
  VmConfig config = with_host_device("0000:01:00.0");
  config.vfio_backend = pci::host::VfioBackendChoice::kIommufd;
  auto plan = check_host_devices(config, 40, kLabSysfs);
  ASSERT_FALSE(plan);
  EXPECT_THAT(plan.error().message(), HasSubstr("devices[0] (vfio 0000:01:00.0)"));
  EXPECT_THAT(plan.error().message(), HasSubstr("no /dev/iommu"));
  EXPECT_THAT(plan.error().message(), HasSubstr("--set vfio.backend=legacy"));
}

TEST(HostDevicesVfioPath, AutoTakesTheCdevWhereTheKernelAndTheDeviceHaveIt) {
  ferry::test::TempDir dir;
  const std::string root = lab_tree_with_iommufd(dir, true);
  auto plan = check_host_devices(with_host_device("0000:01:00.0"), 40, root);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_TRUE(plan->iommufd) << plan->why;
  ASSERT_EQ(plan->devices.size(), 1u);
  EXPECT_EQ(plan->devices[0].cdev, "/dev/vfio/devices/vfio0");
  // ... unless the spec asks for the legacy container.
  VmConfig legacy = with_host_device("0000:01:00.0");
  legacy.vfio_backend = pci::host::VfioBackendChoice::kLegacy;
  auto forced = check_host_devices(legacy, 40, root);
  ASSERT_TRUE(forced) << forced.error().message();
  EXPECT_FALSE(forced->iommufd);
}

// iommufd cannot map a BAR for DMA: with vfio.p2p, auto means the legacy container, and an
// iommufd asked for stays iommufd (the start then fails naming the fix, docs/vfio.md).
TEST(HostDevicesVfioPath, WithP2pAutoTakesTheLegacyContainerEvenWhereIommufdIs) {
  ferry::test::TempDir dir;
  const std::string root = lab_tree_with_iommufd(dir, true);
  VmConfig p2p = with_host_device("0000:01:00.0");
  p2p.vfio_p2p = true;
  auto plan = check_host_devices(p2p, 40, root);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_FALSE(plan->iommufd) << plan->why;
  EXPECT_THAT(plan->why, HasSubstr("vfio.backend: auto with vfio.p2p"));
  p2p.vfio_backend = pci::host::VfioBackendChoice::kIommufd;
  auto asked = check_host_devices(p2p, 40, root);
  ASSERT_TRUE(asked) << asked.error().message();
  EXPECT_TRUE(asked->iommufd) << asked->why;
}

TEST(HostDevicesVfioPath, ADeviceWithoutItsCdevGoesTheLegacyWayUnderAuto) {
  ferry::test::TempDir dir;
  const std::string root = lab_tree_with_iommufd(dir, false);
  auto plan = check_host_devices(with_host_device("0000:01:00.0"), 40, root);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_FALSE(plan->iommufd);
  EXPECT_THAT(plan->why, HasSubstr("0000:01:00.0 has no VFIO cdev"));
}

}  // namespace
}  // namespace ferry::vmm

// The vfio entries of a spec judged against a captured host (the lab's sysfs tree): the verdict
// `ferry check` gives, and the IOMMU limits that then bound the guest's BARs and RAM.
#include "ferry/vmm/host_devices.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/base/units.h"

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

}  // namespace
}  // namespace ferry::vmm

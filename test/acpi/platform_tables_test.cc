// ferry's tables as the Machine writes them: reachable from the RSDP, consistent with the
// memory map, and refused when they do not fit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "ferry/acpi/sdt.h"
#include "ferry/vmm/memory_layout.h"
#include "ferry/vmm/power_control.h"
#include "platform_tables.h"

namespace ferry::test {
namespace {

TEST(PlatformTables, EveryTableIsReachableFromTheRsdpWithItsChecksum) {
  auto image = vmm::build_acpi_tables(test_platform(4), kImageBase, vmm::kAcpiTablesSize);
  ASSERT_TRUE(image) << image.error().message();
  auto tables = tables_of(*image);
  std::vector<std::string> names;
  for (const auto& [name, bytes] : tables) {
    names.push_back(name);
    EXPECT_EQ(acpi::byte_sum(bytes), 0) << name;
  }
  EXPECT_THAT(names, ::testing::ElementsAre("APIC", "DSDT", "FACP", "MCFG", "RSDP", "XSDT"));
  EXPECT_EQ(read_le(tables["FACP"], 40, 4), read_le(tables["FACP"], 140, 8)) << "DSDT twice";
}

TEST(PlatformTables, DescribeFerrysDevices) {
  auto image = vmm::build_acpi_tables(test_platform(3), kImageBase, vmm::kAcpiTablesSize);
  ASSERT_TRUE(image);
  auto tables = tables_of(*image);
  const auto& madt = tables["APIC"];
  EXPECT_EQ(madt.size(), acpi::kHeaderSize + 8 + 3 * 8 + 12);
  EXPECT_EQ(read_le(madt, 36, 4), vmm::kLapicAddress);
  EXPECT_EQ(read_le(madt, madt.size() - 8, 4), vmm::kIoapicAddress);
  const auto& mcfg = tables["MCFG"];
  EXPECT_EQ(read_le(mcfg, 44, 8), vmm::kPciEcamBase);
  EXPECT_EQ(mcfg[55], vmm::kPciEcamSize / (1 << 20) - 1) << "the last bus the ECAM decodes";
  EXPECT_EQ(read_le(tables["FACP"], 244 + 4, 8), vmm::kSleepControlPort);
  EXPECT_EQ(read_le(tables["FACP"], 256 + 4, 8), vmm::kSleepStatusPort);
  EXPECT_EQ(read_le(tables["FACP"], 116 + 4, 8), vmm::kResetPort);
}

TEST(PlatformTables, PrtOnlyWithWiredIntx) {
  const std::string prt = "_PRT";
  auto has_prt = [&](const vmm::AcpiPlatform& platform) {
    const std::vector<uint8_t> aml = vmm::dsdt_aml(platform);
    return std::search(aml.begin(), aml.end(), prt.begin(), prt.end()) != aml.end();
  };
  vmm::AcpiPlatform platform = test_platform(1);
  EXPECT_TRUE(has_prt(platform));
  platform.intx.clear();
  EXPECT_FALSE(has_prt(platform)) << "no device with INTx: no _PRT";
}

TEST(PlatformTables, TheDsdtCarriesTheWindowsTheRootComplexUses) {
  const vmm::AcpiPlatform platform = test_platform(1);
  const std::vector<uint8_t> aml = vmm::dsdt_aml(platform);
  auto contains_le = [&](uint64_t value, unsigned size) {
    std::vector<uint8_t> needle;
    for (unsigned i = 0; i < size; ++i) needle.push_back(static_cast<uint8_t>(value >> (8 * i)));
    return std::search(aml.begin(), aml.end(), needle.begin(), needle.end()) != aml.end();
  };
  EXPECT_TRUE(contains_le(platform.windows.mmio64.base, 8));
  EXPECT_TRUE(contains_le(platform.windows.mmio64.base + platform.windows.mmio64.size - 1, 8));
  EXPECT_TRUE(contains_le(platform.windows.mmio32.base, 4));
  EXPECT_TRUE(contains_le(platform.windows.io.base, 2));
}

TEST(PlatformTables, AnEmpty64BitWindowIsLeftOut) {
  vmm::AcpiPlatform platform = test_platform(1);
  const size_t with = vmm::dsdt_aml(platform).size();
  platform.windows.mmio64 = {};
  EXPECT_EQ(vmm::dsdt_aml(platform).size(), with - 46) << "one QWordMemory descriptor less";
}

TEST(PlatformTables, TablesThatDoNotFitAreRefused) {
  auto image = vmm::build_acpi_tables(test_platform(256), kImageBase, 1024);
  ASSERT_FALSE(image);
  EXPECT_THAT(image.error().message(), ::testing::HasSubstr("256 vCPUs need"));
  EXPECT_TRUE(vmm::build_acpi_tables(test_platform(256), kImageBase, vmm::kAcpiTablesSize));
}

TEST(PlatformTables, TheRsdpIsWhereLinuxScans) {
  static_assert(vmm::kAcpiTablesBase % 16 == 0);
  static_assert(vmm::kAcpiTablesBase >= 0xe0000 &&
                vmm::kAcpiTablesBase + vmm::kAcpiTablesSize <= 0x100000);
  auto image = vmm::build_acpi_tables(test_platform(1), kImageBase, vmm::kAcpiTablesSize);
  ASSERT_TRUE(image);
  EXPECT_EQ(std::string(image->begin(), image->begin() + 8), "RSD PTR ");
}

}  // namespace
}  // namespace ferry::test

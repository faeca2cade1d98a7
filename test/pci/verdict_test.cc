// Verdicts on the captured lab and host trees: every rule, and the exact fix commands.
#include "ferry/pci/host/verdict.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "ferry/base/units.h"
#include "pci_fixtures.h"
#include "support/temp_dir.h"

namespace ferry::pci::host {
namespace {

using testing::AllOf;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;

const Inventory& tree(const std::string& name) {
  static std::map<std::string, Inventory> trees;
  if (!trees.count(name)) trees.emplace(name, *Inventory::scan({test::sysfs_fixture(name), ""}));
  return trees.at(name);
}

Verdict judge(const std::string& tree_name, const char* bdf, unsigned phys_bits = 40,
              uint64_t ram_top = 2 * kGiB) {
  const Inventory& inventory = tree(tree_name);
  const HostDevice* device = inventory.find(*Bdf::parse(bdf));
  EXPECT_NE(device, nullptr) << bdf;
  return assess(*device, inventory, *GuestWindows::for_guest(ram_top, phys_bits));
}

const Check& check(const Verdict& verdict, const char* id) {
  const Check* c = verdict.find(id);
  EXPECT_NE(c, nullptr) << id;
  return *c;
}

TEST(Verdict, VfioBoundNvmeIsAssignable) {
  const Verdict v = judge("lab-q35", "0000:01:00.0");
  EXPECT_TRUE(v.assignable());
  EXPECT_EQ(v.summary(), "assignable");
  for (const Check& c : v.checks) {
    // lab-q35 was captured before capture-sysfs copied module/: that one cannot be told.
    const CheckStatus expected = c.id == "vfio-iommu" ? CheckStatus::kSkipped : CheckStatus::kPass;
    EXPECT_EQ(c.status, expected) << c.id << ": " << c.detail;
    EXPECT_FALSE(c.fix) << c.id;
  }
  EXPECT_THAT(check(v, "iommu").detail, HasSubstr("dmar0 (39-bit DMA addresses)"));
  EXPECT_THAT(check(v, "msix").detail,
              AllOf(HasSubstr("65 vectors"), HasSubstr("BAR0+0x2000"), HasSubstr("BAR0+0x3000")));
  EXPECT_THAT(check(v, "reset").detail, HasSubstr("flr, bus"));
}

TEST(Verdict, HostDriverBoundDeviceGetsTheRebindCommands) {
  const Verdict v = judge("lab-q35", "0000:03:00.0");
  EXPECT_FALSE(v.assignable());
  EXPECT_EQ(v.summary(), "not assignable");
  const Check& driver = check(v, "driver");
  EXPECT_EQ(driver.status, CheckStatus::kFail);
  EXPECT_THAT(driver.detail, HasSubstr("bound to e1000e"));
  ASSERT_TRUE(driver.fix);
  EXPECT_THAT(driver.fix->commands,
              ElementsAre("echo vfio-pci > /sys/bus/pci/devices/0000:03:00.0/driver_override",
                          "echo 0000:03:00.0 > /sys/bus/pci/drivers/e1000e/unbind",
                          "echo 0000:03:00.0 > /sys/bus/pci/drivers/vfio-pci/bind"));
  // Only the driver is wrong.
  for (const Check& c : v.checks) {
    if (c.id != "driver") {
      EXPECT_NE(c.status, CheckStatus::kFail) << c.id;
    }
  }
}

TEST(Verdict, UnboundDeviceNeedsNoUnbind) {
  const Verdict v = judge("lab-q35", "0000:00:06.0");  // edu: no driver, no reset method
  const Check& driver = check(v, "driver");
  EXPECT_EQ(driver.status, CheckStatus::kFail);
  EXPECT_THAT(driver.detail, HasSubstr("bound to no driver"));
  EXPECT_THAT(driver.fix->commands,
              ElementsAre("echo vfio-pci > /sys/bus/pci/devices/0000:00:06.0/driver_override",
                          "echo 0000:00:06.0 > /sys/bus/pci/drivers/vfio-pci/bind"));
  EXPECT_EQ(check(v, "reset").status, CheckStatus::kWarn);
  ASSERT_TRUE(check(v, "reset").fix);
  EXPECT_THAT(check(v, "reset").fix->commands, IsEmpty());
  EXPECT_EQ(check(v, "msix").status, CheckStatus::kSkipped);
}

// A copy of lab-q35 (made in the test) with these modules under module/.
Inventory lab_with_modules(const test::TempDir& dir, const std::vector<std::string>& modules) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(dir.path()) / "sysfs";
  fs::copy(test::sysfs_fixture("lab-q35"), root,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::create_directories(root / "module");
  for (const std::string& m : modules) fs::create_directory(root / "module" / m);
  return *Inventory::scan({root.string(), ""});
}

Verdict judge_nvme(const Inventory& inventory) {
  const HostDevice* nvme = inventory.find(*Bdf::parse("0000:01:00.0"));
  EXPECT_NE(nvme, nullptr);
  return assess(*nvme, inventory, *GuestWindows::for_guest(2 * kGiB, 40));
}

TEST(Verdict, WithoutVfioIommuType1NoGroupCanJoinAContainer) {
  test::TempDir dir;
  const Verdict v = judge_nvme(lab_with_modules(dir, {"vfio", "vfio_pci"}));
  const Check& backend = check(v, "vfio-iommu");
  EXPECT_EQ(backend.status, CheckStatus::kFail);
  EXPECT_THAT(backend.detail, HasSubstr("vfio_iommu_type1 (VFIO's IOMMU backend) is not loaded"));
  ASSERT_TRUE(backend.fix);
  EXPECT_THAT(backend.fix->commands, ElementsAre("modprobe vfio_iommu_type1"));
  EXPECT_FALSE(v.assignable());
}

TEST(Verdict, VfioIommuType1LoadedPasses) {
  test::TempDir dir;
  const Verdict v = judge_nvme(lab_with_modules(dir, {"vfio", "vfio_iommu_type1", "vfio_pci"}));
  EXPECT_EQ(check(v, "vfio-iommu").status, CheckStatus::kPass);
  EXPECT_EQ(v.summary(), "assignable");
}

TEST(Verdict, IommufdWithoutType1IsOnlyAWarning) {
  // iommufd can provide /dev/vfio/vfio itself (CONFIG_IOMMUFD_VFIO_CONTAINER); sysfs cannot say.
  test::TempDir dir;
  const Verdict v = judge_nvme(lab_with_modules(dir, {"iommufd", "vfio", "vfio_pci"}));
  EXPECT_EQ(check(v, "vfio-iommu").status, CheckStatus::kWarn);
  EXPECT_THAT(check(v, "vfio-iommu").detail, HasSubstr("CONFIG_IOMMUFD_VFIO_CONTAINER"));
  EXPECT_TRUE(v.assignable());
}

TEST(Verdict, GroupWithAHostDriverIsNotViable) {
  const Verdict v = judge("lab-q35", "0000:05:01.0");  // vfio-pci, but 05:02.0 has e1000
  EXPECT_EQ(check(v, "driver").status, CheckStatus::kPass);
  const Check& group = check(v, "group");
  EXPECT_EQ(group.status, CheckStatus::kFail);
  EXPECT_THAT(group.detail, AllOf(HasSubstr("0000:05:02.0 is bound to e1000"),
                                  HasSubstr("0000:04:00.0 (no driver)")));
  ASSERT_TRUE(group.fix);
  EXPECT_THAT(group.fix->commands,
              ElementsAre("echo vfio-pci > /sys/bus/pci/devices/0000:05:02.0/driver_override",
                          "echo 0000:05:02.0 > /sys/bus/pci/drivers/e1000/unbind",
                          "echo 0000:05:02.0 > /sys/bus/pci/drivers/vfio-pci/bind"));
  EXPECT_FALSE(v.assignable());
}

TEST(Verdict, RootPortsShareTheirGroupWithPcieportOnly) {
  // A device alone in its group passes; a bridge fails on its header type alone.
  const Verdict port = judge("lab-q35", "0000:00:02.0");
  EXPECT_EQ(check(port, "header").status, CheckStatus::kFail);
  EXPECT_THAT(check(port, "header").detail, HasSubstr("PCI bridge"));
  EXPECT_EQ(check(port, "group").status, CheckStatus::kPass);
}

TEST(Verdict, ChipsetGroupListsItsMembers) {
  const Verdict v = judge("lab-q35", "0000:00:1f.2");  // SATA, with LPC and SMBus, no drivers
  const Check& group = check(v, "group");
  EXPECT_EQ(group.status, CheckStatus::kPass);
  EXPECT_THAT(group.detail,
              AllOf(HasSubstr("0000:00:1f.0 (no driver)"), HasSubstr("0000:00:1f.3 (no driver)")));
}

TEST(Verdict, UnalignedMsixIsAWarning) {
  const Verdict v = judge("lab-q35", "0000:08:00.0");  // virtio-rng: PBA at BAR1+0x800
  EXPECT_TRUE(v.assignable());
  EXPECT_EQ(v.summary(), "assignable, 1 warning");
  EXPECT_EQ(check(v, "msix").status, CheckStatus::kWarn);
  EXPECT_THAT(check(v, "msix").detail, HasSubstr("BAR1+0x800; not page-aligned"));
}

TEST(Verdict, BarsThatFitNoWindowSayHowManyPhysBitsWouldDo) {
  // ivshmem's 1 GiB BAR, RAM up to 64 GiB in a 36-bit guest: no 64-bit window left.
  const Verdict v = judge("lab-q35", "0000:07:00.0", 36, 64 * kGiB);
  const Check& bars = check(v, "bars");
  EXPECT_EQ(bars.status, CheckStatus::kFail);
  EXPECT_THAT(bars.detail, HasSubstr("BAR2 (1 GiB mem64 prefetchable)"));
  ASSERT_TRUE(bars.fix);
  EXPECT_THAT(bars.fix->summary, HasSubstr("at least 37 physical address bits"));
  // The same guest with a 64 GiB window above its RAM is fine.
  EXPECT_EQ(check(judge("lab-q35", "0000:07:00.0", 37, 64 * kGiB), "bars").status,
            CheckStatus::kPass);
}

TEST(Verdict, IommuTooNarrowIsSaidSo) {
  // 600 GiB of RAM is beyond the lab IOMMU's 39-bit reach (512 GiB).
  const Check bars = check(judge("lab-q35", "0000:07:00.0", 46, 600 * kGiB), "bars");
  EXPECT_EQ(bars.status, CheckStatus::kFail);
  EXPECT_THAT(bars.fix->summary, HasSubstr("translates only 39-bit addresses"));
}

TEST(Verdict, ConfigReadAsNonRootWarnsThatCapabilitiesAreUnknown) {
  // What a non-root reader gets: the 64-byte header only. Rebuild the device from it.
  const Inventory& inventory = tree("lab-q35");
  HostDevice nvme = *inventory.find(*Bdf::parse("0000:01:00.0"));
  std::vector<uint8_t> header = nvme.config.bytes();
  header.resize(kConfigHeaderSize);
  nvme.config = ConfigSpace(header);
  nvme.caps = parse_capabilities(nvme.config);
  const Verdict v = assess(nvme, inventory, *GuestWindows::for_guest(2 * kGiB, 40));
  const Check& msix = check(v, "msix");
  EXPECT_EQ(msix.status, CheckStatus::kWarn);
  EXPECT_THAT(msix.detail, HasSubstr("only 64 bytes of config space"));
  EXPECT_THAT(msix.fix->commands, ElementsAre("sudo ferry check 0000:01:00.0"));
}

TEST(Verdict, NoIommuFailsWithTheKernelCommandLineFix) {
  const Verdict v = judge("host-virtio", "0000:00:02.0");
  const Check& iommu = check(v, "iommu");
  EXPECT_EQ(iommu.status, CheckStatus::kFail);
  ASSERT_TRUE(iommu.fix);
  EXPECT_THAT(iommu.fix->commands, testing::Contains(HasSubstr("intel_iommu=on iommu=pt")));
  EXPECT_EQ(check(v, "group").status, CheckStatus::kSkipped);
  // vfio-pci is not loaded on this host: loading it comes first.
  EXPECT_THAT(check(v, "driver").fix->commands,
              ElementsAre("modprobe vfio-pci",
                          "echo vfio-pci > /sys/bus/pci/devices/0000:00:02.0/driver_override",
                          "echo 0000:00:02.0 > /sys/bus/pci/drivers/virtio-pci/unbind",
                          "echo 0000:00:02.0 > /sys/bus/pci/drivers/vfio-pci/bind"));
  EXPECT_FALSE(v.assignable());
}

}  // namespace
}  // namespace ferry::pci::host

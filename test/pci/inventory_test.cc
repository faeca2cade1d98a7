// The inventory of captured sysfs trees (test/fixtures/sysfs), checked against lspci reading
// the same trees through libpci's own code (an independent decoder), and against what the
// trees' captures show (group members, reserved regions, IOMMU registers, reset methods).
#include "ferry/pci/host/inventory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <regex>
#include <sstream>

#include "command.h"
#include "pci_fixtures.h"
#include "support/temp_dir.h"

namespace ferry::pci::host {
namespace {

using test::sysfs_fixture;
using testing::ElementsAre;
using testing::HasSubstr;

Inventory scan(const std::string& tree) {
  auto inventory = Inventory::scan({sysfs_fixture(tree), ""});
  EXPECT_TRUE(inventory) << inventory.error().message();
  return inventory ? std::move(*inventory) : Inventory();
}

Bdf bdf(const char* text) { return *Bdf::parse(text); }

// lspci -vmm -nn -k -D over the tree: slot -> field -> value.
using LspciRecord = std::map<std::string, std::string>;
std::map<std::string, LspciRecord> lspci(const std::string& tree) {
  auto result = test::run_command({"/usr/bin/lspci", "-A", "linux-sysfs", "-O",
                                   "sysfs.path=" + sysfs_fixture(tree) + "/bus/pci", "-vmm", "-nn",
                                   "-k", "-D"});
  EXPECT_EQ(result.status, 0) << "lspci (Debian package pciutils) failed: " << result.err;
  std::map<std::string, LspciRecord> records;
  std::istringstream lines(result.out);
  std::string slot;
  for (std::string line; std::getline(lines, line);) {
    const size_t tab = line.find(":\t");
    if (tab == std::string::npos) continue;
    const std::string key = line.substr(0, tab);
    const std::string value = line.substr(tab + 2);
    if (key == "Slot") slot = value;
    records[slot][key] = value;
  }
  return records;
}

// "Red Hat, Inc. [1b36]" -> {"Red Hat, Inc.", "1b36"}.
std::pair<std::string, std::string> name_and_id(const std::string& field) {
  static const std::regex kField("^(.*) \\[([0-9a-f]+)\\]$");
  std::smatch m;
  if (!std::regex_match(field, m, kField)) return {field, ""};
  return {m[1].str(), m[2].str()};
}

// `functions`: how many the tree holds, so that an empty scan and an empty lspci cannot agree.
void expect_matches_lspci(const std::string& tree, size_t functions) {
  const Inventory inventory = scan(tree);
  const auto records = lspci(tree);
  ASSERT_EQ(records.size(), functions) << "lspci over " << tree;
  ASSERT_EQ(inventory.devices().size(), records.size());
  for (const HostDevice& d : inventory.devices()) {
    SCOPED_TRACE(d.bdf.str());
    ASSERT_EQ(records.count(d.bdf.str()), 1u);
    const LspciRecord& r = records.at(d.bdf.str());
    auto [vendor_name, vendor_id] = name_and_id(r.at("Vendor"));
    auto [device_name, device_id] = name_and_id(r.at("Device"));
    auto [class_name, class_id] = name_and_id(r.at("Class"));
    EXPECT_EQ(fmt::format("{:04x}", d.vendor_id), vendor_id);
    EXPECT_EQ(fmt::format("{:04x}", d.device_id), device_id);
    EXPECT_EQ(fmt::format("{:04x}", d.class_id()), class_id);
    EXPECT_EQ(fmt::format("{:02x}", d.class_code & 0xff), r.at("ProgIf"));
    EXPECT_EQ(fmt::format("{:02x}", d.revision), r.count("Rev") ? r.at("Rev") : "00");
    // lspci leaves out a zero subsystem.
    auto field = [&](const char* key) { return r.count(key) ? r.at(key) : "none [0000]"; };
    EXPECT_EQ(fmt::format("{:04x}", d.subsystem_vendor_id), name_and_id(field("SVendor")).second);
    EXPECT_EQ(fmt::format("{:04x}", d.subsystem_id), name_and_id(field("SDevice")).second);
    // lspci prints "Vendor [1234]" when pci.ids lacks the name; ferry leaves it empty. For a
    // subclass pci.ids lacks, libpci names the base class and adds the number, which lspci -nn
    // prints once.
    EXPECT_EQ(d.vendor_name, vendor_name == "Vendor" ? "" : vendor_name);
    EXPECT_EQ(d.device_name, device_name == "Device" ? "" : device_name);
    const std::string numbered = class_name + " [" + class_id + "]";
    EXPECT_TRUE(d.class_name == class_name || d.class_name == numbered) << d.class_name;
    EXPECT_EQ(d.driver.value_or(""), r.count("Driver") ? r.at("Driver") : "");
    EXPECT_EQ(d.iommu_group ? std::to_string(*d.iommu_group) : "",
              r.count("IOMMUGroup") ? r.at("IOMMUGroup") : "");
  }
}

constexpr size_t kLabTreeFunctions = 21, kHostTreeFunctions = 6;

TEST(Inventory, LabTreeMatchesLspci) { expect_matches_lspci("lab-q35", kLabTreeFunctions); }
TEST(Inventory, HostTreeMatchesLspci) { expect_matches_lspci("host-virtio", kHostTreeFunctions); }

TEST(Inventory, LabTreeGroupsUnitsAndResets) {
  const Inventory inventory = scan("lab-q35");
  EXPECT_TRUE(inventory.iommu_enabled());
  EXPECT_TRUE(inventory.driver_available("vfio-pci"));
  EXPECT_TRUE(inventory.driver_available("e1000e"));
  EXPECT_FALSE(inventory.driver_available("nvme"));
  // Behind the PCIe-to-PCI bridge everything shares one group: requester IDs alias there.
  const HostDevice* e1000 = inventory.find(bdf("0000:05:01.0"));
  ASSERT_NE(e1000, nullptr);
  ASSERT_TRUE(e1000->iommu_group);
  const IommuGroup* group = inventory.group(*e1000->iommu_group);
  ASSERT_NE(group, nullptr);
  EXPECT_THAT(group->members,
              ElementsAre(bdf("0000:04:00.0"), bdf("0000:05:01.0"), bdf("0000:05:02.0")));
  ASSERT_EQ(group->reserved.size(), 1u);
  EXPECT_EQ(group->reserved[0].start, 0xfee00000u);
  EXPECT_EQ(group->reserved[0].end, 0xfeefffffu);
  EXPECT_EQ(group->reserved[0].type, "msi");
  // The q35 chipset's functions of slot 1f share one group (no ACS between functions).
  const HostDevice* sata = inventory.find(bdf("00:1f.2"));
  ASSERT_NE(sata, nullptr);
  EXPECT_EQ(inventory.group(*sata->iommu_group)->members.size(), 3u);

  const HostDevice* nvme = inventory.find(bdf("0000:01:00.0"));
  ASSERT_NE(nvme, nullptr);
  EXPECT_EQ(nvme->iommu_unit, "dmar0");
  EXPECT_THAT(nvme->reset_methods, ElementsAre("flr", "bus"));
  const IommuUnit* unit = inventory.iommu_unit("dmar0");
  ASSERT_NE(unit, nullptr);
  EXPECT_EQ(unit->kind, "intel");
  EXPECT_EQ(unit->address_bits, 39u);  // QEMU's intel-iommu default aw-bits=39
  EXPECT_TRUE(inventory.find(bdf("0000:00:06.0"))->reset_methods.empty());  // edu: no reset
}

TEST(Inventory, LabTreeBars) {
  const Inventory inventory = scan("lab-q35");
  // lspci: Region 0: Memory (32-bit, non-prefetchable) [size=128K], Region 1 same,
  // Region 2: I/O ports [size=32], Region 3: Memory (32-bit) [size=16K], ROM [size=256K].
  const HostDevice* e1000e = inventory.find(bdf("0000:02:00.0"));
  ASSERT_NE(e1000e, nullptr);
  ASSERT_EQ(e1000e->bars.size(), 4u);
  EXPECT_EQ(e1000e->bars[0].kind, BarKind::kMemory32);
  EXPECT_EQ(e1000e->bars[0].size, 128u * 1024);
  EXPECT_EQ(e1000e->bars[2].kind, BarKind::kIo);
  EXPECT_EQ(e1000e->bars[2].size, 32u);
  EXPECT_EQ(e1000e->bars[3].index, 3u);
  EXPECT_EQ(e1000e->bars[3].size, 16u * 1024);
  ASSERT_TRUE(e1000e->rom);
  EXPECT_EQ(e1000e->rom->size, 256u * 1024);
  // ivshmem: Region 2: Memory at 100000000 (64-bit, prefetchable) [size=1G].
  const HostDevice* ivshmem = inventory.find(bdf("0000:07:00.0"));
  ASSERT_NE(ivshmem, nullptr);
  const Bar* big = ivshmem->bar(2);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->kind, BarKind::kMemory64);
  EXPECT_TRUE(big->prefetchable);
  EXPECT_EQ(big->size, 1u << 30);
  EXPECT_EQ(big->host_address, 0x100000000u);
}

TEST(Inventory, HostTreeHasNoIommu) {
  const Inventory inventory = scan("host-virtio");
  EXPECT_FALSE(inventory.iommu_enabled());
  EXPECT_FALSE(inventory.driver_available("vfio-pci"));
  ASSERT_EQ(inventory.devices().size(), kHostTreeFunctions);
  for (const HostDevice& d : inventory.devices()) {
    EXPECT_FALSE(d.iommu_group) << d.bdf.str();
    EXPECT_TRUE(d.reset_methods.empty()) << d.bdf.str();
    // Captured as root: the host bridge gives 4096 bytes, the virtio functions 256.
    EXPECT_EQ(d.config.size(), d.bdf.device == 0 ? kExtendedConfigSize : kConfigSize)
        << d.bdf.str();
  }
}

TEST(Inventory, MissingSysfsRootIsNamed) {
  auto inventory = Inventory::scan({"/nonexistent/sys", ""});
  ASSERT_FALSE(inventory);
  EXPECT_EQ(inventory.error().code(), Errc::kNotFound);
  EXPECT_THAT(inventory.error().message(), HasSubstr("/nonexistent/sys/bus/pci/devices"));
}

TEST(Inventory, LibpciErrorsBecomeErrors) {
  // A device directory without the files libpci must have (vendor, resource...): libpci calls
  // its fatal error handler, which must come back here as an Error, not exit the process.
  test::TempDir root;
  std::filesystem::create_directories(root.path() + "/bus/pci/devices/0000:00:01.0");
  auto inventory = Inventory::scan({root.path(), ""});
  ASSERT_FALSE(inventory);
  EXPECT_THAT(inventory.error().message(), HasSubstr("0000:00:01.0"));
}

TEST(Inventory, CaptureScriptRoundTrips) {
  // scripts/capture-sysfs run over a captured tree gives a tree with the same inventory.
  test::TempDir out;
  auto result = test::run_command({std::string(FERRY_SOURCE_DIR) + "/scripts/capture-sysfs",
                                   out.path() + "/copy", sysfs_fixture("lab-q35")});
  ASSERT_EQ(result.status, 0) << result.err;
  const Inventory original = scan("lab-q35");
  auto copy = Inventory::scan({out.path() + "/copy", ""});
  ASSERT_TRUE(copy) << copy.error().message();
  ASSERT_EQ(original.devices().size(), kLabTreeFunctions);
  ASSERT_EQ(copy->devices().size(), original.devices().size());
  for (size_t i = 0; i < original.devices().size(); ++i) {
    const HostDevice& a = original.devices()[i];
    const HostDevice& b = copy->devices()[i];
    EXPECT_EQ(a.bdf, b.bdf);
    EXPECT_EQ(a.config.bytes(), b.config.bytes()) << a.bdf.str();
    EXPECT_EQ(a.driver, b.driver) << a.bdf.str();
    EXPECT_EQ(a.iommu_group, b.iommu_group) << a.bdf.str();
    EXPECT_EQ(a.reset_methods, b.reset_methods) << a.bdf.str();
  }
  EXPECT_EQ(copy->iommu_unit("dmar0")->address_bits, 39u);
}

}  // namespace
}  // namespace ferry::pci::host

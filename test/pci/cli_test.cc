// `ferry devices` and `ferry check` end to end, on the captured trees: output, JSON, exit
// statuses and the errors bad input gets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <filesystem>

#include "command.h"
#include "pci_fixtures.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry::test {
namespace {

using nlohmann::json;
using testing::AllOf;
using testing::HasSubstr;
using testing::IsEmpty;
using testing::Not;

std::vector<std::string> on(const std::string& tree, std::vector<std::string> args) {
  args.push_back("--sysfs");
  args.push_back(sysfs_fixture(tree));
  return args;
}

TEST(DevicesCommand, PrintsOneLinePerDeviceWithGroupDriverAndVerdict) {
  auto r = run_ferry(on("lab-q35", {"devices"}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, IsEmpty());
  EXPECT_THAT(r.out, HasSubstr("BDF"));
  EXPECT_THAT(r.out, testing::ContainsRegex("0000:01:00.0 +1b36:0010 +10 +vfio-pci +assignable "
                                            "+Non-Volatile memory controller"));
  EXPECT_THAT(r.out, testing::ContainsRegex("0000:03:00.0 +8086:10d3 +12 +e1000e +not assignable"));
  EXPECT_THAT(r.out, testing::ContainsRegex("0000:08:00.0 .* assignable, 1 warning"));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 22);  // header + 21 devices
}

TEST(DevicesCommand, JsonHasEveryDeviceAndItsVerdict) {
  auto r = run_ferry(on("lab-q35", {"devices", "--json"}));
  ASSERT_EQ(r.status, 0) << r.err;
  const json doc = json::parse(r.out);
  EXPECT_TRUE(doc["iommu"].get<bool>());
  ASSERT_EQ(doc["devices"].size(), 21u);
  const json* nvme = nullptr;
  for (const json& d : doc["devices"]) {
    if (d["bdf"] == "0000:01:00.0") nvme = &d;
  }
  ASSERT_NE(nvme, nullptr);
  EXPECT_EQ((*nvme)["driver"], "vfio-pci");
  EXPECT_EQ((*nvme)["iommu_group"], 10);
  EXPECT_EQ((*nvme)["class"], "010802");
  EXPECT_EQ((*nvme)["capabilities"]["msix"]["table_size"], 65);
  EXPECT_EQ((*nvme)["capabilities"]["msix"]["table_offset"], 0x2000);
  EXPECT_EQ((*nvme)["bars"][0]["type"], "mem64");
  EXPECT_EQ((*nvme)["bars"][0]["size"], 16384);
  EXPECT_TRUE((*nvme)["verdict"]["assignable"].get<bool>());
  EXPECT_EQ((*nvme)["reset_methods"], json::array({"flr", "bus"}));
}

TEST(DevicesCommand, HostWithoutIommuSaysSo) {
  auto r = run_ferry(on("host-virtio", {"devices"}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("No IOMMU is on, so no device is assignable"));
  // Six devices, each "not assignable".
  size_t verdicts = 0;
  for (size_t at = r.out.find("not assignable"); at != std::string::npos;
       at = r.out.find("not assignable", at + 1)) {
    ++verdicts;
  }
  EXPECT_EQ(verdicts, 6u);
}

TEST(CheckCommand, AssignableDeviceExitsZero) {
  auto r = run_ferry(on("lab-q35", {"check", "0000:01:00.0"}));
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("Verdict: assignable"), HasSubstr("MSI-X:        65 vectors"),
                           HasSubstr("IOMMU group:  10 (alone)")));
}

// The lab-q35 capture is of Debian's 6.1 kernel: no iommufd, so only the legacy container.
TEST(CheckCommand, SaysWhichVfioPathAndWhy) {
  auto r = run_ferry(on("lab-q35", {"check", "0000:01:00.0"}));
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("VFIO path: the legacy VFIO container, because this kernel has "
                               "no iommufd (no /dev/iommu"));
  auto iommufd = run_ferry(on("lab-q35", {"check", "0000:01:00.0", "--vfio-backend", "iommufd"}));
  EXPECT_EQ(iommufd.status, 3) << iommufd.out << iommufd.err;
  EXPECT_THAT(iommufd.out, AllOf(HasSubstr("vfio.backend: iommufd asks for iommufd, but this "
                                           "kernel has no iommufd"),
                                 HasSubstr("--set vfio.backend=legacy")));
  auto bad = run_ferry(on("lab-q35", {"check", "0000:01:00.0", "--vfio-backend", "cdev"}));
  EXPECT_EQ(bad.status, 2);
  EXPECT_THAT(bad.err, HasSubstr("give auto, legacy or iommufd"));
}

TEST(CheckCommand, NotAssignableExitsThreeWithTheFix) {
  auto r = run_ferry(on("lab-q35", {"check", "03:00.0"}));
  EXPECT_EQ(r.status, 3);
  EXPECT_THAT(r.out, AllOf(HasSubstr("Verdict: not assignable"),
                           HasSubstr("echo 0000:03:00.0 > /sys/bus/pci/drivers/e1000e/unbind")));
}

TEST(CheckCommand, JsonCarriesChecksAndFixes) {
  auto r = run_ferry(on("lab-q35", {"check", "0000:05:01.0", "--json"}));
  EXPECT_EQ(r.status, 3);
  const json doc = json::parse(r.out);
  EXPECT_EQ(doc["bdf"], "0000:05:01.0");
  EXPECT_EQ(doc["iommu_group_members"],
            json::array({"0000:04:00.0", "0000:05:01.0", "0000:05:02.0"}));
  bool seen = false;
  for (const json& c : doc["verdict"]["checks"]) {
    if (c["id"] != "group") continue;
    seen = true;
    EXPECT_EQ(c["status"], "fail");
    EXPECT_EQ(c["fix"]["commands"][1], "echo 0000:05:02.0 > /sys/bus/pci/drivers/e1000/unbind");
  }
  EXPECT_TRUE(seen);
}

TEST(CheckCommand, MalformedBdfIsAUsageError) {
  auto r = run_ferry(on("lab-q35", {"check", "1:0.0"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, AllOf(HasSubstr("'1:0.0' is not a PCI address"), HasSubstr("0000:01:00.0")));
  EXPECT_THAT(r.out, IsEmpty());
}

TEST(CheckCommand, MissingDeviceIsNamed) {
  auto r = run_ferry(on("lab-q35", {"check", "0000:42:00.0"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, AllOf(HasSubstr("no PCI device 0000:42:00.0"), HasSubstr("ferry devices")));
}

TEST(CheckCommand, NoBdfIsAUsageError) {
  auto r = run_ferry({"check"});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("give the device's PCI address"));
}

TEST(PciOptions, BadValuesAreUsageErrors) {
  auto sysfs = run_ferry({"devices", "--sysfs", "/nonexistent"});
  EXPECT_EQ(sysfs.status, 2);
  EXPECT_THAT(sysfs.err, HasSubstr("/nonexistent/bus/pci/devices does not exist"));
  auto bits = run_ferry(on("lab-q35", {"devices", "--guest-phys-bits", "99"}));
  EXPECT_EQ(bits.status, 2);
  EXPECT_THAT(bits.err, HasSubstr("99 guest physical address bits"));
  auto memory = run_ferry(on("lab-q35", {"check", "01:00.0", "--guest-memory", "lots"}));
  EXPECT_EQ(memory.status, 2);
  EXPECT_THAT(memory.err, HasSubstr("--guest-memory lots"));
  auto unknown = run_ferry({"devices", "--frobnicate"});
  EXPECT_EQ(unknown.status, 2);
}

TEST(PciOptions, PciIdsThatIsNotARegularFileIsRefusedWithoutBlocking) {
  TempDir dir;
  const std::string fifo = dir.path() + "/pci.ids";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& ids : {fifo, dir.path()}) {
    // libpci used to open a FIFO itself and block forever: kill it after 10 s.
    ProcessResult r =
        Process({FERRY_BINARY, "devices", "--sysfs", sysfs_fixture("lab-q35"), "--pci-ids", ids},
                dir.path())
            .wait(std::chrono::seconds(10));
    EXPECT_EQ(r.exit_status, 2) << ids << " blocked or crashed (signal " << r.signal << ")";
    EXPECT_THAT(r.err, HasSubstr("pci.ids: " + ids + " is a")) << ids;
    EXPECT_THAT(r.err, HasSubstr(", not a regular file")) << ids;
  }
}

TEST(PciOptions, ASysfsTreeWithAFifoIsRefusedWithoutBlocking) {
  namespace fs = std::filesystem;
  TempDir dir;
  const fs::path root = fs::path(dir.path()) / "sysfs";
  fs::copy(sysfs_fixture("host-virtio"), root,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  const std::string vendor = (root / "devices/pci0000:00/0000:00:01.0/vendor").string();
  fs::remove(vendor);
  ASSERT_EQ(::mkfifo(vendor.c_str(), 0600), 0);
  // libpci reads the attributes itself and used to block forever on the FIFO.
  ProcessResult r = Process({FERRY_BINARY, "devices", "--sysfs", root.string()}, dir.path())
                        .wait(std::chrono::seconds(10));
  EXPECT_EQ(r.exit_status, 2) << "blocked or crashed (signal " << r.signal << ")";
  EXPECT_THAT(r.err, HasSubstr("0000:00:01.0/vendor is a FIFO (named pipe), not a regular file"));
}

TEST(PciOptions, AnUnreadablePciIdsAndNegativeNumbersAreRefusedAsTyped) {
  auto ids = run_ferry(on("lab-q35", {"devices", "--pci-ids", "/nonexistent"}));
  EXPECT_EQ(ids.status, 2);
  EXPECT_THAT(ids.err, HasSubstr("--pci-ids /nonexistent: cannot read it (No such file or "
                                 "directory); give a readable pci.ids file, or leave --pci-ids "
                                 "out"));
  auto bits = run_ferry(on("lab-q35", {"check", "01:00.0", "--guest-phys-bits", "-1"}));
  EXPECT_EQ(bits.status, 2);
  EXPECT_THAT(bits.err, HasSubstr("--guest-phys-bits '-1': not a whole number; give 0 or more"));
  EXPECT_THAT(bits.err, Not(HasSubstr("4294967295")));
}

TEST(PciOptions, GuestShapeChangesTheBarVerdict) {
  auto fits = run_ferry(on("lab-q35", {"check", "07:00.0"}));
  EXPECT_EQ(fits.status, 0) << fits.out;
  auto crowded = run_ferry(
      on("lab-q35", {"check", "07:00.0", "--guest-memory", "63G", "--guest-phys-bits", "36"}));
  EXPECT_EQ(crowded.status, 3) << crowded.out;
  EXPECT_THAT(crowded.out, HasSubstr("at least 37 physical address bits"));
}

}  // namespace
}  // namespace ferry::test

// `ferry devices --json` and `ferry check --json` when a name is not valid UTF-8: pci.ids and
// sysfs are bytes, JSON is UTF-8, so each bad byte must come out as U+FFFD, never as a crash.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "command.h"
#include "pci_fixtures.h"
#include "support/temp_dir.h"

namespace ferry::test {
namespace {

using nlohmann::json;
using testing::HasSubstr;

constexpr char kLatin1Name[] = "caf\xe9";            // "café" in Latin-1: invalid UTF-8
constexpr char kReplacedName[] = "caf\xef\xbf\xbd";  // what JSON carries: U+FFFD
constexpr char kBalloon[] = "0000:00:01.0";          // 1af4:1045 in host-virtio
constexpr char kBalloonDir[] = "devices/pci0000:00/0000:00:01.0";

// A pci.ids naming host-virtio's balloon with a Latin-1 byte.
std::string latin1_pci_ids(const TempDir& dir) {
  return dir.write("pci.ids", std::string("1af4  Red Hat, Inc.\n\t1045  ") + kLatin1Name + "\n");
}

// A copy of host-virtio whose balloon is bound to a driver whose name is a Latin-1 byte.
std::string tree_with_latin1_driver(const TempDir& dir) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(dir.path()) / "sysfs";
  fs::copy(sysfs_fixture("host-virtio"), root,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  const fs::path link = root / kBalloonDir / "driver";
  fs::remove(link);
  fs::create_symlink(std::string("../../../bus/pci/drivers/") + kLatin1Name, link);
  fs::create_directory(root / "bus/pci/drivers" / kLatin1Name);  // libpci names only a real one
  return root.string();
}

const json& device(const json& doc, const std::string& bdf) {
  for (const json& d : doc["devices"]) {
    if (d["bdf"] == bdf) return d;
  }
  static const json kNone;
  return kNone;
}

TEST(InvalidUtf8, DevicesJsonReplacesBadBytesFromPciIds) {
  TempDir dir;
  auto r = run_ferry({"devices", "--json", "--sysfs", sysfs_fixture("host-virtio"), "--pci-ids",
                      latin1_pci_ids(dir)});
  ASSERT_EQ(r.status, 0) << r.err;
  const json doc = json::parse(r.out);
  EXPECT_EQ(device(doc, kBalloon)["device_name"], kReplacedName);
}

TEST(InvalidUtf8, CheckJsonReplacesBadBytesFromPciIds) {
  TempDir dir;
  auto r = run_ferry({"check", kBalloon, "--json", "--sysfs", sysfs_fixture("host-virtio"),
                      "--pci-ids", latin1_pci_ids(dir)});
  ASSERT_EQ(r.status, 3) << r.err;  // not assignable: host-virtio has no IOMMU
  const json doc = json::parse(r.out);
  EXPECT_EQ(doc["device_name"], kReplacedName);
}

TEST(InvalidUtf8, DevicesAndCheckJsonReplaceBadBytesFromSysfs) {
  TempDir dir;
  const std::string tree = tree_with_latin1_driver(dir);
  auto devices = run_ferry({"devices", "--json", "--sysfs", tree});
  ASSERT_EQ(devices.status, 0) << devices.err;
  EXPECT_EQ(device(json::parse(devices.out), kBalloon)["driver"], kReplacedName);

  auto check = run_ferry({"check", kBalloon, "--json", "--sysfs", tree});
  ASSERT_EQ(check.status, 3) << check.err;
  const json doc = json::parse(check.out);
  EXPECT_EQ(doc["driver"], kReplacedName);
  EXPECT_THAT(doc["verdict"].dump(), HasSubstr(std::string("bound to ") + kReplacedName));
}

}  // namespace
}  // namespace ferry::test

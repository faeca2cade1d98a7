// ferry inside the L1 lab (scripts/lab, docs/lab.md): a real kernel with a real (emulated)
// IOMMU and the real vfio-pci driver. One boot runs every command; the cases below read its
// transcript. What ferry reports is compared with what the lab's kernel shows through other
// means (sysfs links read by the shell, lspci, and vfio_kernel_probe, which asks /dev/vfio for
// each group's viability and attaches it to a container), and the fix commands ferry prints are
// run there to prove they fix what they claim to, judged by the kernel, not by ferry.
//
// Skipped (never passed) only when scripts/lab says this host cannot run the lab at all (exit
// 77: no QEMU and no way to install it, no Debian mirror for the kernel); FERRY_REQUIRE_LAB=1
// turns that into a failure.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "command.h"
#include "lab_transcript.h"
#include "support/temp_dir.h"

namespace ferry::test {
namespace {

using nlohmann::json;
using testing::AllOf;
using testing::HasSubstr;

// Prints each fix command of a `ferry check` report (they are indented 25 columns).
constexpr const char* kFixLines = " | sed -n 's/^ \\{25\\}\\([^ ]\\)/\\1/p'";
const std::string kGroundTruth =
    "for d in /sys/bus/pci/devices/*; do g=$(readlink $d/iommu_group); "
    "r=$(readlink $d/driver); echo ${d##*/} ${g##*/} ${r##*/}; done";
const std::string kLspci = "lspci -D -vv";
const std::string kDevicesJson = "ferry devices --json";
// Prints "group <N> viable attached" and the like for each /dev/vfio/N (vfio_kernel_probe.cc).
const std::string kProbe = FERRY_VFIO_KERNEL_PROBE;
// The kernel's view again after the fix commands (the comment keeps the lines apart).
const std::string kAfterFixes = " # after the fixes";

std::string fix_then_check(const std::string& bdf) {
  return "ferry check " + bdf + kFixLines + " | sh -ex && ferry check " + bdf;
}

std::vector<std::string> lab_commands() {
  return {
      kGroundTruth,
      kLspci,
      kProbe,
      kDevicesJson,
      "ferry devices",
      "ferry check 0000:01:00.0",
      "ferry check 0000:03:00.0 --json",
      "ferry check 0000:05:01.0",
      "ferry check 0000:00:06.0",
      "ferry check 0000:0a:00.0",
      "ferry check 1:2",
      fix_then_check("0000:03:00.0"),
      fix_then_check("0000:05:01.0"),
      fix_then_check("0000:00:06.0"),
      kGroundTruth + kAfterFixes,
      kProbe + kAfterFixes,
  };
}

struct LabRun {
  enum class State { kRan, kCannotRun, kFailed } state = State::kFailed;
  std::string why;  // for kCannotRun and kFailed
  LabTranscript transcript;
  double seconds = 0;
};

LabRun run_lab() {
  LabRun run;
  TempDir dir;
  const std::string transcript_path = dir.path() + "/transcript";
  std::vector<std::string> argv{std::string(FERRY_SOURCE_DIR) + "/scripts/lab", "run",
                                // Debian's kernel with its modules: the host drivers load after
                                // the vfio bindings, and the legacy VFIO path stays tested.
                                "--kernel", "debian", "--ferry", FERRY_BINARY, "--transcript",
                                transcript_path, "--include", kProbe, "--"};
  for (const std::string& c : lab_commands()) argv.push_back(c);
  const auto start = std::chrono::steady_clock::now();
  const CommandResult result = run_command(argv);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (result.status == 77) {
    run.state = LabRun::State::kCannotRun;
    run.why = result.err;
    return run;
  }
  if (result.status != 0) {
    run.why = "scripts/lab run exited " + std::to_string(result.status) + ":\n" + result.err;
    return run;
  }
  auto transcript = parse_lab_transcript(dir.read("transcript"));
  if (!transcript) {
    run.why = transcript.error().message();
    return run;
  }
  run.transcript = std::move(*transcript);
  run.state = LabRun::State::kRan;
  return run;
}

struct SysfsDevice {
  std::string group;
  std::string driver;  // empty: none
};

// A line of vfio_kernel_probe: "group <N> <state> [<attach>]".
struct KernelGroup {
  std::string state;   // viable, not-viable, or "open-failed <ERRNO>" and the like
  std::string attach;  // for a viable group: attached, or "attach-failed <step> <ERRNO>"
};

class Lab : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    run_ = new LabRun(run_lab());
    std::cout << "lab: scripts/lab run took " << run_->seconds << " s\n";
  }
  static void TearDownTestSuite() {
    delete run_;
    run_ = nullptr;
  }

  void SetUp() override {
    if (run_->state == LabRun::State::kCannotRun) {
      const char* require = std::getenv("FERRY_REQUIRE_LAB");
      if (require == nullptr || std::string(require) != "1") {
        GTEST_SKIP() << "NO LAB: this host cannot run scripts/lab: " << run_->why;
      }
      FAIL() << "FERRY_REQUIRE_LAB=1, but this host cannot run scripts/lab: " << run_->why;
    }
    ASSERT_EQ(run_->state, LabRun::State::kRan) << run_->why;
    ASSERT_TRUE(run_->transcript.done) << "the lab stopped before it ran every command";
    // scripts/lab fails on these too; the test does not rely on it.
    ASSERT_THAT(run_->transcript.setup_errors, ::testing::IsEmpty())
        << "the lab's setup failed (a module or a vfio-pci bind)";
  }

  static const LabCommand& command(const std::string& line) {
    const LabCommand* c = run_->transcript.find(line);
    if (c == nullptr) {
      ADD_FAILURE() << "the transcript has no command '" << line << "'";
      static const LabCommand kNone;
      return kNone;
    }
    return *c;
  }

  // The devices of a `ferry devices --json` document, by BDF.
  static std::map<std::string, json> devices(const std::string& line) {
    std::map<std::string, json> out;
    const LabCommand& c = command(line);
    EXPECT_EQ(c.status, 0) << c.err;
    const json doc = json::parse(c.out, nullptr, false);
    EXPECT_FALSE(doc.is_discarded()) << c.out;
    if (doc.is_discarded()) return out;
    for (const json& d : doc["devices"]) out[d["bdf"].get<std::string>()] = d;
    return out;
  }

  // "<bdf> <group> <driver>" lines of kGroundTruth (the sysfs links, read by the lab's shell).
  static std::map<std::string, SysfsDevice> sysfs_devices(const std::string& line) {
    std::map<std::string, SysfsDevice> out;
    const LabCommand& c = command(line);
    EXPECT_EQ(c.status, 0) << c.err;
    std::istringstream lines(c.out);
    for (std::string text; std::getline(lines, text);) {
      std::istringstream words(text);
      std::string bdf;
      SysfsDevice d;
      words >> bdf >> d.group >> d.driver;
      out[bdf] = d;
    }
    return out;
  }

  // The groups vfio_kernel_probe reports, by number; `container` gets its container line.
  static std::map<int, KernelGroup> kernel_groups(const std::string& line,
                                                  std::string* container = nullptr) {
    std::map<int, KernelGroup> out;
    const LabCommand& c = command(line);
    EXPECT_EQ(c.status, 0) << c.out << c.err;
    std::istringstream lines(c.out);
    for (std::string text; std::getline(lines, text);) {
      std::istringstream words(text);
      std::string kind;
      words >> kind;
      if (kind == "container") {
        if (container != nullptr) *container = text;
        continue;
      }
      EXPECT_EQ(kind, "group") << text;
      int number = -1;
      KernelGroup g;
      words >> number >> g.state;
      std::getline(words, g.attach);
      if (!g.attach.empty()) g.attach.erase(0, 1);
      if (g.state != "viable" && g.state != "not-viable") g.state += " " + g.attach;
      EXPECT_EQ(out.count(number), 0u) << "group " << number << " listed twice";
      out[number] = g;
    }
    return out;
  }

  static LabRun* run_;
};

LabRun* Lab::run_ = nullptr;

TEST_F(Lab, GroupsAndDriversAreTheKernels) {
  const auto truth = sysfs_devices(kGroundTruth);
  const auto found = devices(kDevicesJson);
  for (const auto& [bdf, t] : truth) {
    SCOPED_TRACE(bdf);
    ASSERT_EQ(found.count(bdf), 1u);
    const json& d = found.at(bdf);
    EXPECT_EQ(d["iommu_group"].get<int>(), std::stoi(t.group));
    EXPECT_EQ(d["driver"].is_null() ? "" : d["driver"].get<std::string>(), t.driver);
  }
  EXPECT_EQ(truth.size(), found.size());
  EXPECT_GE(truth.size(), 20u);
}

// The status of a device's "group" check in ferry's verdict, or "" without one.
std::string group_check(const json& device) {
  for (const json& check : device["verdict"]["checks"]) {
    if (check["id"] == "group") return check["status"].get<std::string>();
  }
  return "";
}

TEST_F(Lab, KernelGroupViabilityIsFerrysVerdict) {
  const auto kernel = kernel_groups(kProbe);
  std::cout << "vfio_kernel_probe inside the lab:\n" << command(kProbe).out;
  ASSERT_FALSE(kernel.empty()) << "the kernel lists no group in /dev/vfio";
  const auto found = devices(kDevicesJson);
  // /dev/vfio/N exists for each group with a member on vfio-pci; ferry judges each such member.
  std::map<int, std::vector<std::string>> vfio_members;
  for (const auto& [bdf, d] : found) {
    if (d["driver"] == "vfio-pci") vfio_members[d["iommu_group"].get<int>()].push_back(bdf);
  }
  for (const auto& [number, g] : kernel) {
    SCOPED_TRACE("group " + std::to_string(number) + " " + g.state);
    ASSERT_THAT(g.state, testing::AnyOf("viable", "not-viable"));
    ASSERT_EQ(vfio_members.count(number), 1u) << "ferry shows no vfio-pci device in it";
    for (const std::string& bdf : vfio_members.at(number)) {
      EXPECT_EQ(group_check(found.at(bdf)), g.state == "viable" ? "pass" : "fail") << bdf;
    }
  }
  for (const auto& [number, members] : vfio_members) {
    EXPECT_EQ(kernel.count(number), 1u) << "no /dev/vfio/" << number << " for " << members[0];
  }
  // Both answers are covered: the e1000 beside one on its host driver is not viable.
  const int shared = found.at("0000:05:01.0")["iommu_group"].get<int>();
  ASSERT_EQ(kernel.count(shared), 1u);
  EXPECT_EQ(kernel.at(shared).state, "not-viable");
}

TEST_F(Lab, VfioGroupsAttachToAType1v2Container) {
  std::string container;
  const auto kernel = kernel_groups(kProbe, &container);
  EXPECT_EQ(container, "container api 0 type1v2 yes");
  // Groups whose every member is on vfio-pci, by the sysfs links.
  std::map<std::string, bool> all_vfio;
  for (const auto& [bdf, d] : sysfs_devices(kGroundTruth)) {
    const auto [it, added] = all_vfio.emplace(d.group, d.driver == "vfio-pci");
    if (!added) it->second = it->second && d.driver == "vfio-pci";
  }
  size_t attached = 0;
  for (const auto& [group, vfio] : all_vfio) {
    if (!vfio) continue;
    SCOPED_TRACE("group " + group);
    const int number = std::stoi(group);
    ASSERT_EQ(kernel.count(number), 1u) << "no /dev/vfio/" << group;
    EXPECT_EQ(kernel.at(number).state, "viable");
    EXPECT_EQ(kernel.at(number).attach, "attached");
    ++attached;
  }
  // NVMe, e1000e, ivshmem and virtio-rng.
  EXPECT_GE(attached, 4u);
  for (const auto& [number, g] : kernel) {
    if (g.state != "viable") continue;
    EXPECT_EQ(g.attach, "attached") << "group " << number;
  }
}

TEST_F(Lab, VfioDevicesAreAssignable) {
  const auto found = devices(kDevicesJson);
  for (const char* bdf : {"0000:01:00.0", "0000:02:00.0", "0000:07:00.0", "0000:08:00.0"}) {
    SCOPED_TRACE(bdf);
    ASSERT_EQ(found.count(bdf), 1u);
    EXPECT_EQ(found.at(bdf)["driver"], "vfio-pci");
    EXPECT_TRUE(found.at(bdf)["verdict"]["assignable"].get<bool>());
  }
  EXPECT_EQ(found.at("0000:08:00.0")["verdict"]["summary"], "assignable, 1 warning");
  const LabCommand& nvme = command("ferry check 0000:01:00.0");
  EXPECT_EQ(nvme.status, 0) << nvme.out << nvme.err;
  EXPECT_THAT(nvme.out, HasSubstr("Verdict: assignable"));
}

TEST_F(Lab, MsixLayoutsAreLspcis) {
  // lspci -vv: "Capabilities: [40] MSI-X: Enable- Count=65 Masked-",
  // "Vector table: BAR=0 offset=00002000", "PBA: BAR=0 offset=00003000".
  std::map<std::string, json> lspci;
  static const std::regex kSlot("^([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]) .*");
  static const std::regex kCount("MSI-X: Enable[+-] Count=([0-9]+)");
  static const std::regex kPlace("(Vector table|PBA): BAR=([0-9]) offset=([0-9a-f]{8})");
  std::istringstream lines(command(kLspci).out);
  std::string slot;
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, kSlot)) slot = m[1].str();
    if (std::regex_search(line, m, kCount)) lspci[slot]["table_size"] = std::stoi(m[1].str());
    if (std::regex_search(line, m, kPlace)) {
      const std::string prefix = m[1].str() == "PBA" ? "pba" : "table";
      lspci[slot][prefix + "_bar"] = std::stoi(m[2].str());
      lspci[slot][prefix + "_offset"] = std::stoul(m[3].str(), nullptr, 16);
    }
  }
  const auto found = devices(kDevicesJson);
  size_t with_msix = 0;
  for (const auto& [bdf, d] : found) {
    SCOPED_TRACE(bdf);
    const json& caps = d["capabilities"];
    ASSERT_EQ(caps.contains("msix"), lspci.count(bdf) == 1);
    if (!caps.contains("msix")) continue;
    EXPECT_EQ(caps["msix"], lspci.at(bdf));
    ++with_msix;
  }
  // The root ports, NVMe x2, e1000e x2 and virtio-rng.
  EXPECT_GE(with_msix, 12u);
  EXPECT_EQ(found.at("0000:01:00.0")["capabilities"]["msix"]["table_size"], 65);
}

TEST_F(Lab, HostDriverDeviceIsNotAssignableWithTheFix) {
  const LabCommand& c = command("ferry check 0000:03:00.0 --json");
  EXPECT_EQ(c.status, 3);
  const json doc = json::parse(c.out);
  EXPECT_EQ(doc["driver"], "e1000e");
  EXPECT_FALSE(doc["verdict"]["assignable"].get<bool>());
  bool driver_check = false;
  for (const json& check : doc["verdict"]["checks"]) {
    if (check["id"] != "driver") continue;
    driver_check = true;
    EXPECT_EQ(check["status"], "fail");
    EXPECT_EQ(check["fix"]["commands"],
              json::array({"echo vfio-pci > /sys/bus/pci/devices/0000:03:00.0/driver_override",
                           "echo 0000:03:00.0 > /sys/bus/pci/drivers/e1000e/unbind",
                           "echo 0000:03:00.0 > /sys/bus/pci/drivers/vfio-pci/bind"}));
  }
  EXPECT_TRUE(driver_check);
}

TEST_F(Lab, GroupAndUnboundVerdicts) {
  const LabCommand& group = command("ferry check 0000:05:01.0");
  EXPECT_EQ(group.status, 3);
  EXPECT_THAT(group.out, AllOf(HasSubstr("is not viable: 0000:05:02.0 is bound to e1000"),
                               HasSubstr("echo 0000:05:02.0 > /sys/bus/pci/drivers/e1000/unbind")));
  const LabCommand& unbound = command("ferry check 0000:00:06.0");
  EXPECT_EQ(unbound.status, 3);
  EXPECT_THAT(unbound.out,
              AllOf(HasSubstr("bound to no driver, not to vfio-pci"),
                    HasSubstr("echo 0000:00:06.0 > /sys/bus/pci/drivers/vfio-pci/bind")));
}

TEST_F(Lab, BadInputIsNamed) {
  const LabCommand& missing = command("ferry check 0000:0a:00.0");
  EXPECT_EQ(missing.status, 2);
  EXPECT_THAT(missing.err, HasSubstr("no PCI device 0000:0a:00.0 in /sys/bus/pci/devices"));
  const LabCommand& malformed = command("ferry check 1:2");
  EXPECT_EQ(malformed.status, 2);
  EXPECT_THAT(malformed.err, HasSubstr("'1:2' is not a PCI address"));
}

TEST_F(Lab, FixCommandsFixWhatTheyClaim) {
  for (const char* bdf : {"0000:03:00.0", "0000:05:01.0", "0000:00:06.0"}) {
    const LabCommand& c = command(fix_then_check(bdf));
    EXPECT_EQ(c.status, 0) << bdf << ":\n" << c.out << c.err;
    EXPECT_THAT(c.out, HasSubstr("Verdict: assignable")) << bdf;
    EXPECT_THAT(c.out, HasSubstr("Driver:       vfio-pci")) << bdf;
    EXPECT_THAT(c.err, HasSubstr("+ echo vfio-pci")) << "no fix command ran for " << bdf;
  }
  // The kernel agrees: its sysfs links put all four on vfio-pci now, and it calls their groups
  // viable and attaches them to a container.
  const auto after = sysfs_devices(kGroundTruth + kAfterFixes);
  const auto kernel = kernel_groups(kProbe + kAfterFixes);
  std::cout << "vfio_kernel_probe after the fix commands:\n" << command(kProbe + kAfterFixes).out;
  for (const char* bdf : {"0000:03:00.0", "0000:05:01.0", "0000:05:02.0", "0000:00:06.0"}) {
    SCOPED_TRACE(bdf);
    ASSERT_EQ(after.count(bdf), 1u);
    EXPECT_EQ(after.at(bdf).driver, "vfio-pci");
    const int group = std::stoi(after.at(bdf).group);
    ASSERT_EQ(kernel.count(group), 1u) << "no /dev/vfio/" << group;
    EXPECT_EQ(kernel.at(group).state, "viable");
    EXPECT_EQ(kernel.at(group).attach, "attached");
  }
}

TEST_F(Lab, DevicesTableIsPrinted) {
  const LabCommand& c = command("ferry devices");
  EXPECT_EQ(c.status, 0) << c.err;
  EXPECT_THAT(c.out,
              testing::ContainsRegex("0000:01:00.0 +1b36:0010 +[0-9]+ +vfio-pci +assignable"));
  std::cout << "ferry devices inside the lab:\n" << c.out;
}

}  // namespace
}  // namespace ferry::test

// VFIO cases that run inside the lab (ctest -L vfio; the runner, test/lab/kvm_or_lab.cc, sends
// each to a lab session, which sets FERRY_IN_LAB=1). Each starts ferry as a child process with a
// spec of its own and checks what it says and leaves behind. The lab's devices
// (scripts/lab topology): 01:00.0 NVMe on vfio-pci; 02:00.0 e1000e on vfio-pci; 03:00.0 e1000e
// on its host driver;
// 05:01.0 e1000 on vfio-pci in one IOMMU group with 05:02.0 on the host driver e1000.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry::test {
namespace {

using testing::AllOf;
using testing::Contains;
using testing::EndsWith;
using testing::HasSubstr;
using testing::IsEmpty;
using testing::Not;

namespace fs = std::filesystem;

constexpr const char* kNvme = "0000:01:00.0";
constexpr const char* kE1000e = "0000:02:00.0";
constexpr auto kFerryTimeout = std::chrono::seconds(120);  // a ferry run under TCG: seconds

// The driver bound to a PCI device ("" when none).
std::string driver_of(const std::string& bdf) {
  std::error_code error;
  const fs::path link = fs::read_symlink("/sys/bus/pci/devices/" + bdf + "/driver", error);
  return error ? std::string() : link.filename().string();
}

// The IOMMU group number of a PCI device ("" when it has none).
std::string group_of(const std::string& bdf) {
  std::error_code error;
  const fs::path link = fs::read_symlink("/sys/bus/pci/devices/" + bdf + "/iommu_group", error);
  return error ? std::string() : link.filename().string();
}

// Every open file descriptor in the lab on a VFIO or IOMMUFD node, as "pid fd -> path".
std::vector<std::string> open_vfio_fds() {
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& process : fs::directory_iterator("/proc", error)) {
    const std::string pid = process.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code fd_error;
    for (const auto& fd : fs::directory_iterator(process.path() / "fd", fd_error)) {
      std::error_code link_error;
      const std::string target = fs::read_symlink(fd.path(), link_error).string();
      if (link_error) continue;
      if (target.rfind("/dev/vfio/", 0) == 0 || target == "/dev/iommu") {
        found.push_back(pid + " " + fd.path().filename().string() + " -> " + target);
      }
    }
  }
  return found;
}

// A real-mode guest that says "waiting" on the serial port and then halts with interrupts off,
// forever: a VM that holds its devices until it is killed, without spinning the lab's one CPU.
std::string waiting_guest() {
  std::string code = {'\xfa', '\xba', '\xf8', '\x03'};                  // cli; mov dx, 0x3f8
  for (char c : std::string("waiting\n")) code += {'\xb0', c, '\xee'};  // mov al, c; out dx, al
  code += {'\xf4', '\xeb', '\xfd'};                                     // hlt; jmp back to the hlt
  return code;
}

// True once the guest of `ferry` said "waiting" (it holds its devices then); false when ferry
// exited first or `timeout` passed.
bool guest_is_waiting(Process& ferry, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ferry.wait_for_output("waiting", std::chrono::milliseconds(200))) return true;
    siginfo_t info{};  // WNOWAIT: the child stays for Process::wait to reap
    if (::waitid(P_PID, ferry.pid(), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == ferry.pid()) {
      return ferry.wait_for_output("waiting", std::chrono::milliseconds(50));
    }
  }
  return false;
}

class VfioInLab : public testing::Test {
 protected:
  void SetUp() override {
    const char* in_lab = std::getenv("FERRY_IN_LAB");
    if (in_lab == nullptr || std::string(in_lab) != "1") {
      GTEST_FAIL() << "this test needs the lab's VFIO: run it through ctest (ctest -L vfio), "
                      "whose runner runs it in a lab session";
    }
  }

  // Writes a spec running `payload` with `devices` (both YAML flow values) and returns its path.
  std::string spec(const std::string& name, const std::string& payload,
                   const std::string& devices) const {
    return dir_.write(name + ".yaml", "version: 1\nname: " + name +
                                          "\nvcpus: 1\nmemory: 64M\npayload: " + payload +
                                          "\nserial: stdout\ndevices: " + devices + "\n");
  }
  std::string waiting_spec(const std::string& name, const std::string& devices) const {
    dir_.write("waiting.bin", waiting_guest());
    return spec(name, "{file: waiting.bin, format: flat, mode: real, load_address: 0x8000}",
                devices);
  }
  ProcessResult ferry_run(const std::string& spec_path) const {
    return Process({FERRY_BINARY, "run", spec_path}, dir_.path()).wait(kFerryTimeout);
  }

  TempDir dir_;
};

// The plumbing itself, independent of ferry: the lab has VFIO and the NVMe is on vfio-pci.
TEST_F(VfioInLab, TheLabHasVfioGroupsAndTheNvmeOnVfioPci) {
  std::vector<std::string> groups;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/dev/vfio", error)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") == std::string::npos) groups.push_back(name);
  }
  ASSERT_FALSE(error) << "/dev/vfio: " << error.message();
  EXPECT_THAT(groups, Not(IsEmpty())) << "no VFIO group in /dev/vfio";
  EXPECT_THAT(
      fs::read_symlink(std::string("/sys/bus/pci/devices/") + kNvme + "/driver", error).string(),
      EndsWith("/vfio-pci"));
  EXPECT_THAT(groups, Contains(group_of(kNvme))) << "the NVMe's group is not in /dev/vfio";
}

// A group that is not viable (another member on a host driver) is refused up front, with the
// group and the member in the way named, and nothing left open or rebound.
TEST_F(VfioInLab, ANonViableGroupIsRefusedNamingTheOtherMemberAndItsDriver) {
  ASSERT_EQ(driver_of("0000:05:01.0"), "vfio-pci");
  ASSERT_EQ(driver_of("0000:05:02.0"), "e1000");
  const std::string group = group_of("0000:05:01.0");
  ASSERT_FALSE(group.empty());
  ASSERT_EQ(group, group_of("0000:05:02.0"));

  const ProcessResult r =
      ferry_run(spec("nonviable", "{builtin: hello}", "[{vfio: \"0000:05:01.0\"}]"));
  const std::string output = r.out + r.err;
  EXPECT_NE(r.exit_status, 0) << output;
  EXPECT_THAT(output,
              AllOf(HasSubstr("group " + group), HasSubstr("0000:05:02.0"), HasSubstr("e1000")));
  EXPECT_THAT(open_vfio_fds(), IsEmpty()) << "a VFIO fd is still open after the refusal";
  EXPECT_EQ(driver_of("0000:05:01.0"), "vfio-pci");
  EXPECT_EQ(driver_of("0000:05:02.0"), "e1000");
}

// A device on its host driver is refused with the driver named and the commands that hand it to
// vfio-pci (those `ferry check` prints); ferry changes no binding itself.
TEST_F(VfioInLab, ADeviceOnItsHostDriverIsRefusedWithTheFix) {
  ASSERT_EQ(driver_of("0000:03:00.0"), "e1000e");
  const ProcessResult r =
      ferry_run(spec("hostdriver", "{builtin: hello}", "[{vfio: \"0000:03:00.0\"}]"));
  const std::string output = r.out + r.err;
  EXPECT_NE(r.exit_status, 0) << output;
  EXPECT_THAT(output, AllOf(HasSubstr("e1000e"),
                            HasSubstr("echo 0000:03:00.0 > /sys/bus/pci/drivers/e1000e/unbind"),
                            HasSubstr("echo 0000:03:00.0 > /sys/bus/pci/drivers/vfio-pci/bind")));
  EXPECT_THAT(open_vfio_fds(), IsEmpty()) << "a VFIO fd is still open after the refusal";
  EXPECT_EQ(driver_of("0000:03:00.0"), "e1000e");
}

// A device another ferry holds is busy: the second ferry says so and names the holder's pid,
// and the holder keeps running.
TEST_F(VfioInLab, ADeviceAnotherFerryHoldsIsBusyNamingItsPid) {
  const std::string devices = std::string("[{vfio: \"") + kNvme + "\"}]";
  Process holder({FERRY_BINARY, "run", waiting_spec("holder", devices)}, dir_.path());
  ASSERT_TRUE(guest_is_waiting(holder, kFerryTimeout))
      << "the first ferry did not start its guest with the NVMe:\n"
      << holder.wait(std::chrono::seconds(1)).err;

  const ProcessResult second = ferry_run(spec("second", "{builtin: hello}", devices));
  const std::string output = second.out + second.err;
  EXPECT_NE(second.exit_status, 0) << output;
  EXPECT_THAT(output, AllOf(HasSubstr("busy"), HasSubstr(std::to_string(holder.pid()))));
  EXPECT_EQ(::waitpid(holder.pid(), nullptr, WNOHANG), 0)
      << "the holder ended when the second ferry tried the device";
}

// A ferry killed with SIGKILL while it holds the NVMe leaves it assignable: the next one gets it
// (ferry resets the device at start) and the guest's NVMe driver works with it.
TEST_F(VfioInLab, TheDeviceStaysAssignableAfterItsHolderIsKilled) {
  const std::string devices = std::string("[{vfio: \"") + kNvme + "\"}]";
  {
    Process holder({FERRY_BINARY, "run", waiting_spec("killed", devices)}, dir_.path());
    ASSERT_TRUE(guest_is_waiting(holder, kFerryTimeout))
        << "the first ferry did not start its guest with the NVMe:\n"
        << holder.wait(std::chrono::seconds(1)).err;
    ASSERT_EQ(::kill(holder.pid(), SIGKILL), 0);
    EXPECT_EQ(holder.wait(kFerryTimeout).signal, SIGKILL);
  }
  EXPECT_THAT(open_vfio_fds(), IsEmpty()) << "the killed ferry's VFIO fds are still open";
  EXPECT_EQ(driver_of(kNvme), "vfio-pci");

  const ProcessResult next = ferry_run(spec("next", "{builtin: nvme-check}", devices));
  EXPECT_EQ(next.exit_status, 0) << next.out << next.err;
  EXPECT_THAT(next.out, HasSubstr("nvme: ok")) << next.err;
}

// The e1000e's interrupt reaches the guest both ways ferry offers it: INTx on the IOAPIC pin
// ferry wired (Interrupt Line says which), then MSI, which turns INTx off. The guest raises a
// cause through ICS each time and acknowledges it by reading ICR, 3 times per kind.
TEST_F(VfioInLab, TheE1000eInterruptArrivesThroughIntxThenMsi) {
  ASSERT_EQ(driver_of(kE1000e), "vfio-pci");
  const ProcessResult r = ferry_run(
      spec("e1000e", "{builtin: e1000e-irq}", std::string("[{vfio: \"") + kE1000e + "\"}]"));
  std::cout << r.out << r.err;  // the guest's report, for the test log
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_THAT(r.err, HasSubstr("its INTx is IOAPIC pin 16"));
  EXPECT_THAT(r.out, AllOf(HasSubstr("e1000e: INTx on IOAPIC pin 16: 3 of 3 interrupts"),
                           HasSubstr("e1000e: MSI: 3 of 3 interrupts"), HasSubstr("e1000e: ok")));
  EXPECT_THAT(open_vfio_fds(), IsEmpty()) << "a VFIO fd is still open after the run";
}

}  // namespace
}  // namespace ferry::test

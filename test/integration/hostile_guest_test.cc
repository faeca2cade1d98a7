// The hostile-guest suite (docs/hostile.md): guests that feed ferry garbage on real KVM. Each case
// runs one hostile guest in-process and checks that the guest, afterwards, still found a working
// platform (it exits 0 only then), that ferry kept running and ended the VM through the guest's
// exit, and what the host side can see: nothing wrongly delivered, output complete, memory flat.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include "guest_runner.h"
#include "support/kvm_required.h"

namespace ferry::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Reason = vmm::Outcome::Reason;

// This process's resident set, from /proc/self/status (the VM runs in-process).
uint64_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      uint64_t kib = 0;
      status >> kib;
      return kib * 1024;
    }
    status.ignore(4096, '\n');
  }
  return 0;
}

uint64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

class HostileGuest : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_KVM();
    kvm_ = open_kvm();
    ASSERT_NE(kvm_, nullptr);
  }
  vmm::VmConfig with_pci_test(const std::string& name) {
    vmm::VmConfig config = builtin_config(name, dir_);
    config.devices.push_back({.type = vmm::DeviceType::kPciTest, .slot = 5, .host_bdf = ""});
    return config;
  }
  // The guest must have run to its end and exited 0: every check it makes passed.
  GuestResult expect_survived(const vmm::VmConfig& config,
                              std::chrono::milliseconds timeout = std::chrono::seconds(300)) {
    auto result = run_guest(*kvm_, config, dir_, timeout);
    EXPECT_TRUE(result) << result.error().message();
    if (!result) return {};
    EXPECT_FALSE(result->timed_out) << "the guest did not finish; serial so far:\n"
                                    << result->serial.substr(0, 4096);
    EXPECT_EQ(result->outcome.reason, Reason::kGuestExit) << vmm::describe(result->outcome);
    EXPECT_EQ(result->outcome.code, 0) << "serial:\n" << result->serial.substr(0, 4096);
    EXPECT_THAT(result->serial, Not(HasSubstr("FAILED")));
    return *result;
  }

  TempDir dir_;
  std::unique_ptr<accel::Hypervisor> kvm_;
};

// MSI-X entries, the test device's MSI and the IOAPIC get messages that are not interrupts:
// addresses outside the APIC window or above 4 GiB, vectors 0-15, SMI, ExtINT, reserved modes.
// The guest has a handler on every vector 0-31 and counts: nothing may arrive, the pci-test
// device counts each ring as dropped; afterwards each good vector, an NMI and a fixed IOAPIC
// vector arrive exactly once. The IOAPIC takes 36 bit patterns in all 256 register indices.
TEST_F(HostileGuest, GarbageMsisAndIoapicEntriesAreNeverDelivered) {
  auto result = expect_survived(with_pci_test("hostile-irq"));
  EXPECT_THAT(result.serial, HasSubstr("hostile_irq: 42 MSI-X messages that are not interrupts: "
                                       "none delivered\n"));
  EXPECT_THAT(result.serial, HasSubstr("then 8 MSI-X vectors delivered, each exactly once\n"));
  EXPECT_THAT(result.serial, HasSubstr("test device: 11 garbage MSIs dropped, then one delivered"));
  EXPECT_THAT(result.serial, HasSubstr("IOAPIC: 9216 writes to all 256 register indices"));
  EXPECT_THAT(result.serial, HasSubstr("IOAPIC: 72 refused messages fired, edge and level: none "
                                       "delivered, no Remote IRR\n"));
  EXPECT_THAT(result.serial, HasSubstr("then an NMI and a fixed vector, each delivered once\n"));
  EXPECT_THAT(result.serial, HasSubstr("hostile_irq: all checks passed\n"));
}

// BARs over RAM, ECAM, the local APIC, the IOAPIC, the test device, each other and the ends of
// the windows; capability next pointers written into loops; all ones over 8 KiB of config space.
// RAM stays RAM both ways (the guest's pattern reads back; its writes reach no register), config
// space and the platform devices keep answering, and each BAR moved back works.
TEST_F(HostileGuest, BarsOverRamEcamAndEachOtherAndCapabilityLoopsLeaveThePlatformWorking) {
  auto result = expect_survived(with_pci_test("hostile-pci"));
  EXPECT_THAT(result.serial, HasSubstr("BARs over RAM decode nothing; RAM stays RAM"));
  EXPECT_THAT(result.serial, HasSubstr("BARs over ECAM decode nothing; config space keeps"));
  EXPECT_THAT(result.serial, HasSubstr("BARs over the APIC, IOAPIC, test device and 4 GiB"));
  EXPECT_THAT(result.serial, HasSubstr("overlapping BARs: one decodes, then each moved back"));
  EXPECT_THAT(result.serial, HasSubstr("the walk ends at 0 after 2 capabilities\n"));
  EXPECT_THAT(result.serial, HasSubstr("IDs and list intact\n"));
  EXPECT_THAT(result.serial, HasSubstr("hostile_pci: all checks passed\n"));
}

// Every value to every UART register, then floods: 64 KiB in loopback (into the 16-byte receive
// FIFO) and 32 KiB out through rep outsb. Every output byte reaches the serial file in order, and
// ferry's resident memory does not grow with either flood: sampled every 10 ms from the guest's
// start line to its end line, against a cap of 16 KiB, half the output flood and a quarter of
// the loopback one (the serial path has no queue to fill). The floods are small because each
// byte is an exit, about half a millisecond in the lab's nested KVM.
TEST_F(HostileGuest, ASerialFloodArrivesWholeWithoutGrowingFerrysMemory) {
  constexpr uint64_t kFlood = 32 << 10;
  constexpr uint64_t kGrowthCap = 16 << 10;
  const std::string start = "hostile_serial: registers abused; flood start\n";
  const vmm::VmConfig config = builtin_config("hostile-serial", dir_);
  std::atomic<bool> done{false};
  uint64_t baseline = 0, peak = 0, samples = 0;
  std::thread sampler([&] {
    uint64_t start_end = 0;  // file offset just past the start line, once seen
    while (!done.load()) {
      const uint64_t written = file_size(config.serial.path);
      if (start_end == 0) {
        const std::string so_far = dir_.read("serial.txt");
        if (auto at = so_far.find(start); at != std::string::npos) {
          start_end = at + start.size();
          baseline = resident_bytes();
        }
      } else if (written < start_end + kFlood) {  // until the end line, before the runner reads
        peak = std::max(peak, resident_bytes());
        ++samples;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  auto result = expect_survived(config);
  done = true;
  sampler.join();
  const auto at = result.serial.find(start);
  ASSERT_NE(at, std::string::npos) << result.serial.substr(0, 1024);
  const std::string flood = result.serial.substr(at + start.size(), kFlood);
  ASSERT_EQ(flood.size(), kFlood);
  for (uint64_t i = 0; i < kFlood; ++i) {
    ASSERT_EQ(flood[i], static_cast<char>('a' + i % 4096 % 26)) << "flood byte " << i;
  }
  EXPECT_EQ(result.serial.substr(at + start.size() + kFlood),
            "\nhostile_serial: flood done, 32768 bytes\n");
  ASSERT_NE(baseline, 0u) << "the sampler never saw the start line";
  ASSERT_GT(samples, 10u) << "too few samples while the floods ran";
  EXPECT_LE(peak - std::min(peak, baseline), kGrowthCap)
      << "resident " << baseline << " -> " << peak;
  RecordProperty("rss_growth_bytes", std::to_string(peak - std::min(peak, baseline)));
  std::printf(
      "resident memory %llu KiB at the start line, at most %llu KiB during the floods (%llu "
      "samples)\n",
      static_cast<unsigned long long>(baseline >> 10), static_cast<unsigned long long>(peak >> 10),
      static_cast<unsigned long long>(samples));
}

}  // namespace
}  // namespace ferry::test

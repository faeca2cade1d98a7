// Linux as an L2 guest of ferry in the lab (ctest -L linux): the lab's own kernel boots on ferry
// with two vCPUs and the lab's NVMe assigned; its own nvme driver binds the device; its init
// (test/linux/l2/init) writes a pattern made from a nonce with dd, reads it back, moves the NVMe's
// interrupts between the vCPUs under I/O (l2/irqmove) and powers off through ACPI. A second case
// adds the lab's e1000e, from another IOMMU group, driven by Linux's e1000e driver (l2/nic). It
// runs HERE, not in the lab, like the NVMe data test: it checks the pattern in the NVMe's backing
// file (SESSION/nvme.img) from outside.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../vfio/lab_nvme_image.h"
#include "lab_choice.h"
#include "lab_session.h"

namespace ferry::test {
namespace {

using testing::HasSubstr;
using testing::Not;

constexpr uint64_t kLba = 32;  // clear of the nvme-check guest's LBA 0-8
constexpr size_t kPatternBytes = 8 * 512;

// What l2/init writes: 64 lines of 64 bytes naming the nonce and the line.
std::string expected_pattern(const std::string& nonce) {
  std::string pattern;
  for (int line = 0; line < 64; ++line) {
    char buffer[80];
    std::snprintf(buffer, sizeof buffer, "ferry-l2 %s line %02d%*s\n", nonce.c_str(), line, 30, "");
    pattern += buffer;
  }
  return pattern;
}

std::string random_nonce() {
  std::random_device random;
  std::ostringstream hex;
  hex << std::hex << std::setfill('0') << std::setw(8) << random() << std::setw(8) << random();
  return hex.str();  // 16 characters: l2/init's lines are 64 bytes with it
}

// Boots the L2 Linux on `spec` (test/linux/l2/) with `flags` on its command line, after zeroing
// the NVMe blocks its init writes; checks the NVMe part of init's work, inside and outside.
class LinuxL2 : public testing::Test {
 protected:
  void run_l2(const std::string& spec, const std::string& flags) {
    const std::string session_dir = vfio_lab_session_dir();
    const LabSession session(session_dir);
    FERRY_REQUIRE_LAB_SESSION(session);
    const std::string image = session_dir + "/nvme.img";
    const int fd = ::open(image.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0) << image << ": " << std::strerror(errno)
                     << " (ctest starts the session: run this test with ctest -L linux)";
    // Zero the blocks first, so an earlier run's pattern cannot pass.
    const std::string zeros(kPatternBytes, '\0');
    ASSERT_EQ(::pwrite(fd, zeros.data(), zeros.size(), kLba * 512),
              static_cast<ssize_t>(zeros.size()))
        << std::strerror(errno);
    ASSERT_EQ(::fsync(fd), 0) << std::strerror(errno);

    const std::string nonce = random_nonce();
    const std::string l2 = FERRY_SOURCE_DIR "/test/linux/l2";
    const std::string cmdline = "payload.cmdline=\"console=ttyS0 panic=-1 ferry.nonce=" + nonce +
                                " ferry.lba=" + std::to_string(kLba) + " " + flags +
                                // A lost interrupt fails in seconds, not after the 60 s default.
                                " nvme_core.admin_timeout=10 nvme_core.io_timeout=10\"";
    const std::string command =
        shell_quote({l2 + "/build-initramfs", "/tmp/l2-initramfs.cpio", FERRY_L2_IFUP}) + " && " +
        shell_quote({FERRY_BINARY, "run", l2 + "/" + spec, "--set", cmdline});
    const auto started = std::chrono::steady_clock::now();
    auto result = session.run(command, std::chrono::seconds(1200));
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started)
            .count();
    ASSERT_TRUE(result) << result.error().message()
                        << "\n(ctest starts the session: run this test with ctest -L linux)";
    std::cout << result->output << "\nthe L2 Linux ran for " << seconds << " s in the lab\n";
    output_ = result->output;
    EXPECT_EQ(result->status, 0) << "ferry's exit status (0: the guest powered off)";
    EXPECT_THAT(output_, HasSubstr("l2: init running on 2 vCPUs"));
    EXPECT_THAT(output_, HasSubstr("Non-Volatile memory controller"));  // lspci
    EXPECT_THAT(output_, HasSubstr("driver nvme"));
    EXPECT_THAT(output_,
                HasSubstr("l2: wrote and read back 8 blocks at LBA 32 with nonce " + nonce));
    EXPECT_THAT(output_, HasSubstr("l2: ok"));
    // PCI0._PRT names the IOAPIC pin ferry wired each INTx to (RootComplex::intx_routes).
    EXPECT_THAT(output_, Not(HasSubstr("can't derive routing for PCI INT")));
    EXPECT_THAT(output_, Not(HasSubstr(": no GSI")));
    EXPECT_THAT(output_, Not(HasSubstr("WARNING:")));

    std::string after(kPatternBytes, '\0');
    ASSERT_EQ(::pread(fd, after.data(), after.size(), kLba * 512),
              static_cast<ssize_t>(after.size()))
        << std::strerror(errno);
    ::close(fd);
    EXPECT_EQ(after, expected_pattern(nonce)) << "the blocks in " << image << " at LBA " << kLba;
  }

  size_t count(const std::string& needle) const {
    size_t n = 0;
    for (size_t at = output_.find(needle); at != std::string::npos;
         at = output_.find(needle, at + 1)) {
      ++n;
    }
    return n;
  }

  std::string output_;
};

TEST_F(LinuxL2, DrivesTheAssignedNvmeAndMovesItsInterruptsUnderIo) {
  run_l2("l2-linux.yaml", "ferry.irqmove=1");
  EXPECT_THAT(output_, HasSubstr("l2: irqmove: ok"));
}

// Two devices from different IOMMU groups in one VM (issue 13): one DMA space (the container or,
// on the iommufd path, the IOAS), guest RAM mapped for DMA once, each device's own Linux driver
// with its interrupts, and each device behind a root port of its own, through which the guest
// resets the NVMe alone.
TEST_F(LinuxL2, TakesTwoAssignedDevicesFromDifferentGroups) {
  run_l2("l2-linux-two-devices.yaml", "ferry.nic=1 ferry.busreset=1");
  EXPECT_EQ(count("mapped for DMA"), 1u) << "guest RAM is mapped once for both devices";
  EXPECT_EQ(count("guest RAM stays mapped once"), 1u);     // the second device joins
  EXPECT_THAT(output_, HasSubstr("Ethernet controller"));  // lspci
  EXPECT_THAT(output_, HasSubstr("driver e1000e"));
  EXPECT_THAT(output_, HasSubstr("l2: nic: link up"));
  EXPECT_THAT(output_, HasSubstr("PCIe Root Port"));  // Linux's scan
  EXPECT_THAT(output_, HasSubstr("l2: busreset: 0000:01:00.0 is below 0000:00:01.0"));
  EXPECT_THAT(output_, HasSubstr("l2: busreset: 0000:01:00.0 reset through 0000:00:01.0"));
  // ferry reset the real NVMe, and only it: the e1000e on the other port was left alone.
  EXPECT_EQ(count("reset by the guest (Secondary Bus Reset of its root port)"), 1u);
  EXPECT_THAT(output_, HasSubstr("0000:01:00.0: reset by the guest"));
}

}  // namespace
}  // namespace ferry::test

// The NVMe passthrough data test (ctest -L vfio): runs HERE, not in the lab, because it needs the
// lab session's NVMe backing file (SESSION/nvme.img, the lab's 01:00.0, raw, 4 MiB). It writes a
// random nonce into LBA 0 of that file, has the lab run examples/nvme-passthrough.yaml (the
// built-in nvme-check guest drives the NVMe through VFIO: reads the nonce, writes LBA 1-8 with a
// pattern derived from it, reads them back), and checks the blocks in the file. QEMU reads and
// writes the file through this host's page cache, so no flush is needed in either direction
// beyond the fsync here. It runs once per VFIO path (docs/vfio.md): the legacy container and
// iommufd with the VFIO cdev (the lab's own kernel has both), forced with --set vfio.backend. On
// a lab kernel without /dev/iommu (Debian's 6.1) the iommufd case checks ferry's refusal instead.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <regex>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/guests/nvmecheck.h"
#include "lab_choice.h"
#include "lab_nvme_image.h"
#include "lab_session.h"

namespace ferry::test {
namespace {

using testing::HasSubstr;

constexpr size_t kBlock = 512;
constexpr uint64_t kFirstLba = FERRY_NVMECHECK_FIRST_LBA;
constexpr uint64_t kLastLba = FERRY_NVMECHECK_FIRST_LBA + FERRY_NVMECHECK_BLOCKS - 1;
constexpr size_t kWordsPerBlock = kBlock / 8;

// The first match of `pattern` in `text` (the whole match and its groups), or none.
std::smatch search(const std::string& text, const char* pattern) {
  std::smatch match;
  std::regex_search(text, match, std::regex(pattern));
  return match;
}

// The spec's vfio.backend for each run.
class VfioNvme : public ::testing::TestWithParam<const char*> {};

TEST_P(VfioNvme, TheGuestReadsTheNonceAndWritesItsPatternThroughPassthrough) {
  const std::string session_dir = vfio_lab_session_dir();
  const LabSession session(session_dir);
  FERRY_REQUIRE_LAB_SESSION(session);
  const std::string image = session_dir + "/nvme.img";
  const int fd = ::open(image.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << image << ": " << std::strerror(errno)
                   << " (ctest starts the session: run this test with ctest -L vfio)";

  // LBA 0: the nonce, little-endian; LBA 1-8 zeroed, so an earlier run's blocks cannot pass.
  std::random_device random;
  const uint64_t nonce = static_cast<uint64_t>(random()) << 32 | random();
  std::array<uint8_t, kBlock*(kLastLba + 1)> blocks{};
  put_le64(blocks.data(), nonce);
  ASSERT_EQ(::pwrite(fd, blocks.data(), blocks.size(), 0), static_cast<ssize_t>(blocks.size()))
      << std::strerror(errno);
  ASSERT_EQ(::fsync(fd), 0) << std::strerror(errno);

  const std::string spec = FERRY_SOURCE_DIR "/examples/nvme-passthrough.yaml";
  const std::string backend = GetParam();
  auto iommufd = session.run("test -e /dev/iommu", std::chrono::seconds(30));
  ASSERT_TRUE(iommufd) << iommufd.error().message();
  if (backend == "iommufd" && iommufd->status != 0) {
    // A legacy-only kernel (the lab on Debian's 6.1): asked for iommufd, ferry must refuse
    // before touching the device, and say how to get the legacy path.
    auto refused =
        session.run(shell_quote({FERRY_BINARY, "run", spec, "--set", "vfio.backend=iommufd"}),
                    std::chrono::seconds(120));
    ASSERT_TRUE(refused) << refused.error().message();
    std::cout << "this lab's kernel has no /dev/iommu:\n" << refused->output;
    EXPECT_EQ(refused->status, 1);
    EXPECT_THAT(refused->output, HasSubstr("this kernel has no iommufd"));
    EXPECT_THAT(refused->output, HasSubstr("--set vfio.backend=legacy"));
    EXPECT_THAT(refused->output, HasSubstr("nothing was changed on the host"));
    ::close(fd);
    return;
  }
  auto result = session.run(
      shell_quote({FERRY_BINARY, "run", spec, "--stats", "--set", "vfio.backend=" + backend}),
      std::chrono::seconds(600));
  ASSERT_TRUE(result) << result.error().message()
                      << "\n(ctest starts the session: run this test with ctest -L vfio)";
  std::cout << result->output;  // the guest's report, for the test log
  EXPECT_EQ(result->status, 0);
  // The path asked for is the path taken (ferry's log line at assignment).
  EXPECT_THAT(result->output, HasSubstr("VFIO: " + backend + " path for 1 device"));
  EXPECT_THAT(result->output, HasSubstr("nvme: identify: serial 'ferrylab'"));
  EXPECT_THAT(result->output, HasSubstr("nvme: ok"));
  EXPECT_THAT(result->output, HasSubstr("nvme: moved BAR0 from"));  // the mapping followed it
  EXPECT_THAT(result->output, HasSubstr(" by MSI-X interrupt"));
  // BAR 0 is guest memory: the guest's register and doorbell accesses must not each exit.
  // ferry --stats counts every MMIO exit (config space, the MSI-X table and PBA included).
  const std::smatch accesses = search(result->output, R"(register and doorbell accesses: (\d+))");
  const std::smatch exits = search(result->output, R"("mmio":(\d+))");
  ASSERT_EQ(accesses.size(), 2u) << "the guest did not report its register accesses";
  ASSERT_EQ(exits.size(), 2u) << "ferry --stats printed no MMIO exit count";
  const uint64_t register_accesses = std::stoull(accesses[1]);
  const uint64_t mmio_exits = std::stoull(exits[1]);
  std::cout << "BAR0 register accesses " << register_accesses << ", MMIO exits (all) " << mmio_exits
            << "\n";
  EXPECT_LT(mmio_exits, register_accesses / 2)
      << "BAR 0's registers trap instead of being mapped into the guest";

  std::array<uint8_t, kBlock*(kLastLba + 1)> after{};
  ASSERT_EQ(::pread(fd, after.data(), after.size(), 0), static_cast<ssize_t>(after.size()))
      << std::strerror(errno);
  ::close(fd);
  EXPECT_EQ(get_le64(after.data()), nonce) << "LBA 0 (the nonce) changed";
  int mismatches = 0;
  for (uint64_t lba = kFirstLba; lba <= kLastLba; ++lba) {
    for (uint64_t word = 0; word < kWordsPerBlock; ++word) {
      const uint64_t got = get_le64(after.data() + lba * kBlock + word * 8);
      const uint64_t want = ferry_nvmecheck_pattern(nonce, lba, word);
      if (got != want && ++mismatches <= 4) {
        ADD_FAILURE() << "LBA " << lba << " word " << word << ": 0x" << std::hex << got
                      << ", expected 0x" << want << " (nonce 0x" << nonce << ")";
      }
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << (kLastLba - kFirstLba + 1) * kWordsPerBlock
                           << " words in LBA 1-8";
}

INSTANTIATE_TEST_SUITE_P(Backend, VfioNvme, ::testing::Values("legacy", "iommufd"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           return std::string(param_info.param);
                         });

}  // namespace
}  // namespace ferry::test

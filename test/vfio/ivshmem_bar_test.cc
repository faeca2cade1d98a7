// The large-BAR test (ctest -L vfio, issue 13): runs HERE, not in the lab, because it needs the
// lab session's ivshmem backing file (SESSION/ivshmem.img: the memory behind the lab ivshmem's
// 16 GiB BAR 2, a memory-backend-file the outer QEMU maps shared). It zeroes the first and last
// page of that file and writes a random nonce at offset 0, has the lab run the ivshmem-bar guest
// with the ivshmem assigned (guests/ivshmem_bar.c: sizes BAR 2, checks where ferry put it, writes
// a pattern derived from the nonce into both pages and reads it back), then checks where ferry
// said it placed the BAR and the pattern in the file, and prints how long ferry took to map it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/guests/ivshmemcheck.h"
#include "lab_choice.h"
#include "lab_nvme_image.h"
#include "lab_session.h"

namespace ferry::test {
namespace {

using testing::HasSubstr;

constexpr uint64_t kPage = FERRY_IVSHMEMCHECK_PAGE;
constexpr uint64_t kBarSize = uint64_t{16} << 30;  // scripts/lab: memory-backend-file, size=16G
constexpr const char* kBarSizeText = "16 GiB";     // as ferry logs it

std::smatch search(const std::string& text, const std::string& pattern) {
  std::smatch match;
  std::regex_search(text, match, std::regex(pattern));
  return match;
}

uint64_t hex(const std::ssub_match& text) { return std::stoull(text.str(), nullptr, 16); }

// Checks the page at `offset` of the file against the guest's pattern (from `first_word` on).
int mismatches_in_page(const std::vector<uint8_t>& page, uint64_t offset, uint64_t nonce,
                       uint64_t first_word) {
  int mismatches = 0;
  for (uint64_t word = first_word; word < kPage / 8; ++word) {
    const uint64_t at = offset + word * 8;
    const uint64_t got = get_le64(page.data() + word * 8);
    const uint64_t want = ferry_ivshmemcheck_pattern(nonce, at);
    if (got != want && ++mismatches <= 4) {
      ADD_FAILURE() << "BAR offset 0x" << std::hex << at << ": 0x" << got << ", expected 0x" << want
                    << " (nonce 0x" << nonce << ")";
    }
  }
  return mismatches;
}

TEST(VfioIvshmem, TheGuestWritesBothEndsOfA16GiBBarInThe64BitWindow) {
  const std::string session_dir = vfio_lab_session_dir();
  const LabSession session(session_dir);
  FERRY_REQUIRE_LAB_SESSION(session);
  const std::string image = session_dir + "/ivshmem.img";
  const int fd = ::open(image.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << image << ": " << std::strerror(errno)
                   << " (ctest starts the session: run this test with ctest -L vfio)";
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  ASSERT_EQ(static_cast<uint64_t>(st.st_size), kBarSize) << image;

  // Both pages zeroed, so an earlier run's pattern cannot pass; the nonce at offset 0.
  std::random_device random;
  const uint64_t nonce = static_cast<uint64_t>(random()) << 32 | random();
  std::vector<uint8_t> page(kPage, 0);
  const off_t last = static_cast<off_t>(kBarSize - kPage);
  ASSERT_EQ(::pwrite(fd, page.data(), kPage, last), static_cast<ssize_t>(kPage));
  put_le64(page.data(), nonce);
  ASSERT_EQ(::pwrite(fd, page.data(), kPage, 0), static_cast<ssize_t>(kPage));
  ASSERT_EQ(::fsync(fd), 0) << std::strerror(errno);

  auto result = session.run(shell_quote({FERRY_BINARY, "run", FERRY_IVSHMEM_SPEC}),
                            std::chrono::seconds(600));
  ASSERT_TRUE(result) << result.error().message()
                      << "\n(ctest starts the session: run this test with ctest -L vfio)";
  std::cout << result->output;  // ferry's lines and the guest's report, for the test log
  EXPECT_EQ(result->status, 0);
  EXPECT_THAT(result->output, HasSubstr("ivshmem: ok"));

  // Where the guest found BAR 2, where ferry says it put it, and ferry's 64-bit window.
  const std::smatch guest =
      search(result->output, R"(ivshmem: BAR2 at 0x([0-9a-f]+) size 0x([0-9a-f]+))");
  const std::smatch placed = search(
      result->output,
      std::string(R"(0000:07:00\.0: BAR 2 \()") + kBarSizeText +
          R"(\) at 0x([0-9a-f]+)-0x([0-9a-f]+), mapped into the guest in ([0-9.]+) ms \(mmap ([0-9.]+) ms)");
  const std::smatch window = search(result->output, R"(64-bit MMIO 0x([0-9a-f]+)-0x([0-9a-f]+))");
  ASSERT_EQ(guest.size(), 3u) << "the guest did not report BAR 2";
  ASSERT_EQ(placed.size(), 5u) << "ferry did not say where it mapped BAR 2";
  ASSERT_EQ(window.size(), 3u) << "ferry did not log its PCI windows";
  const uint64_t bar = hex(guest[1]);
  EXPECT_EQ(hex(guest[2]), kBarSize);
  EXPECT_EQ(bar, hex(placed[1]));
  EXPECT_EQ(hex(placed[2]), bar + kBarSize - 1);
  EXPECT_GE(bar, hex(window[1]));
  EXPECT_LE(bar + kBarSize - 1, hex(window[2]));
  EXPECT_EQ(bar % kBarSize, 0u) << "not naturally aligned";
  std::cout << "BAR 2 (" << kBarSizeText << ") at 0x" << std::hex << bar << std::dec
            << ": ferry mapped it in " << placed[3] << " ms (mmap " << placed[4] << " ms)\n";

  std::vector<uint8_t> first(kPage), tail(kPage);
  ASSERT_EQ(::pread(fd, first.data(), kPage, 0), static_cast<ssize_t>(kPage));
  ASSERT_EQ(::pread(fd, tail.data(), kPage, last), static_cast<ssize_t>(kPage));
  ::close(fd);
  EXPECT_EQ(get_le64(first.data()), nonce) << "the nonce at offset 0 changed";
  EXPECT_EQ(mismatches_in_page(first, 0, nonce, 1), 0) << "in the first page";
  EXPECT_EQ(mismatches_in_page(tail, kBarSize - kPage, nonce, 0), 0) << "in the last page";
}

}  // namespace
}  // namespace ferry::test

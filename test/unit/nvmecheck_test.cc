// The nvme-check guest's contract with host tests (guests/include/ferry/guests/nvmecheck.h): the
// header is usable from C++, its pattern is the documented formula, and the guest is built in.
#include "ferry/guests/nvmecheck.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>

#include "ferry/vmm/builtin_payloads.h"

namespace ferry::vmm {
namespace {

TEST(NvmeCheck, PatternIsTheDocumentedFormula) {
  // nonce ^ (lba << 32) ^ (word * 0x9e3779b97f4a7c15), modulo 2^64.
  EXPECT_EQ(ferry_nvmecheck_pattern(0, 0, 0), 0u);
  EXPECT_EQ(ferry_nvmecheck_pattern(0, 0, 1), 0x9e3779b97f4a7c15u);
  EXPECT_EQ(ferry_nvmecheck_pattern(0, 0, 2), 0x3c6ef372fe94f82au);  // wraps past 2^64
  EXPECT_EQ(ferry_nvmecheck_pattern(0x1234567890abcdefu, 1, 0), 0x1234567990abcdefu);
  EXPECT_EQ(ferry_nvmecheck_pattern(0x1234567890abcdefu, 8, 63),
            0x1234567890abcdefu ^ (8ull << 32) ^ (63 * 0x9e3779b97f4a7c15u));
}

TEST(NvmeCheck, PatternDiffersBetweenEveryWordOfTheBlocksWritten) {
  // 8 blocks of up to 4 KiB: no two words alike, so a misplaced block or word cannot match.
  constexpr uint64_t kNonce = 0x0123456789abcdefu;
  constexpr unsigned kWords = 4096 / 8;
  for (unsigned b = 0; b < FERRY_NVMECHECK_BLOCKS; ++b) {
    for (unsigned c = b + 1; c < FERRY_NVMECHECK_BLOCKS; ++c) {
      for (unsigned w = 0; w < kWords; ++w) {
        ASSERT_NE(ferry_nvmecheck_pattern(kNonce, FERRY_NVMECHECK_FIRST_LBA + b, w),
                  ferry_nvmecheck_pattern(kNonce, FERRY_NVMECHECK_FIRST_LBA + c, w));
      }
    }
  }
  for (unsigned w = 1; w < kWords; ++w) {
    ASSERT_NE(ferry_nvmecheck_pattern(kNonce, 1, w), ferry_nvmecheck_pattern(kNonce, 1, w - 1));
  }
}

TEST(NvmeCheck, TheGuestDrivesBlocksAfterTheNonce) {
  EXPECT_EQ(std::string_view(FERRY_NVMECHECK_SERIAL), "ferrylab");
  EXPECT_EQ(FERRY_NVMECHECK_NSID, 1u);
  EXPECT_LT(FERRY_NVMECHECK_NONCE_LBA, FERRY_NVMECHECK_FIRST_LBA);
  EXPECT_EQ(FERRY_NVMECHECK_BLOCKS, 8u);
}

TEST(NvmeCheck, IsABuiltinLongModeElfGuest) {
  const BuiltinPayload* payload = find_builtin_payload("nvme-check");
  ASSERT_NE(payload, nullptr);
  EXPECT_EQ(payload->format, PayloadFormat::kElf);
  EXPECT_EQ(payload->mode, BootMode::kLong);
  ASSERT_GT(payload->image.size(), 4u);
  EXPECT_EQ(payload->image[0], 0x7f);
  EXPECT_EQ(payload->image[1], 'E');
  EXPECT_EQ(payload->config().builtin, "nvme-check");
}

}  // namespace
}  // namespace ferry::vmm

#include <gtest/gtest.h>

#include <cerrno>

#include "ferry/base/checked.h"
#include "ferry/base/error.h"
#include "ferry/base/event_fd.h"
#include "ferry/base/units.h"

namespace ferry {
namespace {

TEST(ParseSize, AcceptsPlainHexAndSuffixes) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("0x100000"), 0x100000u);
  EXPECT_EQ(parse_size("64M"), 64 * kMiB);
  EXPECT_EQ(parse_size("64MiB"), 64 * kMiB);
  EXPECT_EQ(parse_size("2k"), 2 * kKiB);
  EXPECT_EQ(parse_size("1G"), kGiB);
  EXPECT_EQ(parse_size("3T"), 3 * 1024 * kGiB);
}

TEST(ParseSize, RejectsGarbageAndOverflow) {
  EXPECT_EQ(parse_size(""), std::nullopt);
  EXPECT_EQ(parse_size("M"), std::nullopt);
  EXPECT_EQ(parse_size("12Q"), std::nullopt);
  EXPECT_EQ(parse_size("1.5G"), std::nullopt);
  EXPECT_EQ(parse_size("-1"), std::nullopt);
  EXPECT_EQ(parse_size("0x10M"), std::nullopt);
  EXPECT_EQ(parse_size("99999999999T"), std::nullopt);
  EXPECT_EQ(parse_size("18446744073709551616"), std::nullopt);
}

TEST(FormatSize, UsesTheLargestWholeUnit) {
  EXPECT_EQ(format_size(512), "512 B");
  EXPECT_EQ(format_size(64 * kMiB), "64 MiB");
  EXPECT_EQ(format_size(kGiB + kGiB / 2), "1.5 GiB");
}

TEST(Checked, DetectsOverflowAndRanges) {
  EXPECT_EQ(checked_add(UINT64_MAX, 1), std::nullopt);
  EXPECT_EQ(checked_add(1, 2), 3u);
  EXPECT_EQ(checked_mul(UINT64_MAX / 2, 3), std::nullopt);
  EXPECT_TRUE(range_fits(0, 10, 10));
  EXPECT_FALSE(range_fits(1, 10, 10));
  EXPECT_FALSE(range_fits(UINT64_MAX, 2, UINT64_MAX));  // no wrap-around
  EXPECT_TRUE(ranges_overlap(0, 10, 9, 1));
  EXPECT_FALSE(ranges_overlap(0, 10, 10, 1));
  EXPECT_FALSE(ranges_overlap(5, 0, 0, 10));
  EXPECT_TRUE(ranges_overlap(UINT64_MAX - 1, 2, UINT64_MAX, 1));
}

TEST(Error, FromErrnoNamesTheOperationAndMapsTheCode) {
  Error e = Error::from_errno(ENOENT, "opening /dev/kvm");
  EXPECT_EQ(e.code(), Errc::kNotFound);
  EXPECT_EQ(e.sys_errno(), ENOENT);
  EXPECT_EQ(e.message(), "opening /dev/kvm: No such file or directory (errno 2)");
  EXPECT_EQ(e.context("starting").message(),
            "starting: opening /dev/kvm: No such file or directory (errno 2)");
}

Expected<int> twice(Expected<int> in) {
  FERRY_ASSIGN(int value, in);
  return value * 2;
}

TEST(Error, AssignMacroPropagatesErrors) {
  EXPECT_EQ(*twice(21), 42);
  auto failed = twice(fail(Errc::kBusy, "busy {}", 7));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message(), "busy 7");
}

TEST(EventFd, CountsSignalsUntilDrained) {
  auto fd = EventFd::create();
  ASSERT_TRUE(fd);
  EXPECT_EQ(*fd->drain(), 0u);
  ASSERT_TRUE(fd->signal());
  ASSERT_TRUE(fd->signal());
  EXPECT_EQ(*fd->drain(), 2u);
  EXPECT_EQ(*fd->drain(), 0u);
}

}  // namespace
}  // namespace ferry

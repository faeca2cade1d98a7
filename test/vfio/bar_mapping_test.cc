// BAR mmaps aligned for large page table entries (vfio_sys.h): which alignment a piece gets, and
// that the mapping lands on it and still shows the fd's bytes.
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "ferry/base/mapping.h"
#include "ferry/vfio/vfio_sys.h"

namespace ferry::vfio {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kRegion2 = uint64_t{2} << 40;  // vfio-pci's offset of region (BAR) 2

TEST(BarMapAlignment, FollowsSizeAndOffsetUpTo1GiB) {
  EXPECT_EQ(bar_map_alignment(16 * kGiB, kRegion2), kGiB);  // a whole multi-GiB BAR
  EXPECT_EQ(bar_map_alignment(kGiB, kRegion2), kGiB);
  EXPECT_EQ(bar_map_alignment(24 * kMiB, kRegion2), 16 * kMiB);           // not a power of two
  EXPECT_EQ(bar_map_alignment(8 * kMiB, kRegion2 + 4 * kMiB), 4 * kMiB);  // after the MSI-X hole
  EXPECT_EQ(bar_map_alignment(16 * 1024, kRegion2 + 8 * 1024), 8 * 1024);
  EXPECT_EQ(bar_map_alignment(4096, kRegion2), 4096u);
}

TEST(BarMapAlignment, TheMappingStartsAlignedAndShowsTheFdsBytes) {
  const int fd = ::memfd_create("bar", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 8 * kMiB), 0);
  const char marker[] = "the last page";
  ASSERT_EQ(::pwrite(fd, marker, sizeof marker, 8 * kMiB - 4096),
            static_cast<ssize_t>(sizeof marker));
  for (int round = 0; round < 8; ++round) {  // wherever mmap would have put it unaligned
    auto mapped = Mapping::of_fd_aligned(fd, 4 * kMiB, PROT_READ | PROT_WRITE, 4 * kMiB, 4 * kMiB);
    ASSERT_TRUE(mapped) << mapped.error().message();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(mapped->data()) % (4 * kMiB), 0u);
    EXPECT_EQ(std::memcmp(mapped->data() + 4 * kMiB - 4096, marker, sizeof marker), 0);
    auto small = Mapping::of_fd(fd, 4096, PROT_READ, 0);  // moves the next free address along
    ASSERT_TRUE(small);
  }
  ::close(fd);
}

TEST(BarMapAlignment, AnAlignmentThatIsNotAPowerOfTwoIsRefused) {
  EXPECT_FALSE(Mapping::of_fd_aligned(-1, 8 * kMiB, PROT_READ, 0, 3 * kMiB));
}

}  // namespace
}  // namespace ferry::vfio

// Guest RAM's backings and populating it before it is pinned for DMA.
#include "ferry/vmm/guest_memory.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include "ferry/base/units.h"

namespace ferry::vmm {
namespace {

TEST(GuestMemoryPopulate, BacksEveryPageOnSeveralThreadsAndKeepsWhatWasWritten) {
  auto memory = GuestMemory::allocate(600 * kMiB);  // 3 chunks: 256, 256, 88 MiB
  ASSERT_TRUE(memory) << memory.error().message();
  const uint8_t pattern[] = {0xde, 0xad, 0xbe, 0xef};
  ASSERT_TRUE(memory->write(0x100000, pattern));
  EXPECT_LT(memory->resident_bytes(), 16 * kMiB);  // nothing populated yet

  std::mutex seen_mutex;
  std::vector<PopulateProgress> seen;
  std::vector<std::thread::id> callers;
  ASSERT_TRUE(memory->populate(3, [&](const PopulateProgress& p) {
    std::lock_guard lock(seen_mutex);
    seen.push_back(p);
    callers.push_back(std::this_thread::get_id());
  }));

  EXPECT_EQ(memory->resident_bytes(), 600 * kMiB);
  ASSERT_EQ(seen.size(), 3u);  // one call per chunk
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i].done_bytes, seen[i - 1].done_bytes);
  EXPECT_EQ(seen.back().done_bytes, 600 * kMiB);
  EXPECT_EQ(seen.back().total_bytes, 600 * kMiB);
  const uint8_t* kept = memory->host_span(0x100000, sizeof pattern);
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(std::memcmp(kept, pattern, sizeof pattern), 0);
}

TEST(GuestMemoryPopulate, ASingleThreadDoesItAllItself) {
  auto memory = GuestMemory::allocate(64 * kMiB);
  ASSERT_TRUE(memory);
  std::thread::id caller;
  ASSERT_TRUE(
      memory->populate(1, [&](const PopulateProgress&) { caller = std::this_thread::get_id(); }));
  EXPECT_EQ(caller, std::this_thread::get_id());
  EXPECT_EQ(memory->resident_bytes(), 64 * kMiB);
}

std::string thp_setting() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(in, line);
  return line;
}

TEST(GuestMemoryBacking, TransparentHugePagesStartOnA2MiBBoundary) {
  auto memory =
      GuestMemory::allocate(64 * kMiB, {.huge_page_size = 0, .transparent_huge_pages = true});
  const std::string setting = thp_setting();
  if (setting.empty() || setting.find("[never]") != std::string::npos) {
    ASSERT_FALSE(memory);  // the error names the setting and how to change it
    EXPECT_NE(memory.error().message().find("transparent_hugepage/enabled"), std::string::npos);
    return;
  }
  ASSERT_TRUE(memory) << memory.error().message();
  const auto start = reinterpret_cast<uintptr_t>(memory->host_span(0, 1));
  EXPECT_EQ(start % (2 * kMiB), 0u);
  ASSERT_TRUE(memory->populate(2));
  EXPECT_EQ(memory->resident_bytes(), 64 * kMiB);
}

TEST(HugepagePoolError, NamesThePagesNeededAndFreeTheShortfallAndTheCommand) {
  const HugepagePool pool{
      .dir = "/sys/kernel/mm/hugepages/hugepages-2048kB", .free_pages = 100, .total_pages = 300};
  const Error error =
      hugepage_pool_error(4 * kGiB, 2 * kMiB, pool, Error(Errc::kNoResources, "mmap"));
  EXPECT_EQ(error.code(), Errc::kNoResources);
  EXPECT_EQ(error.message(),
            "memory.hugepages: 4 GiB of guest memory needs 2048 free 2 MiB hugepages but the host "
            "has 100 free, 1948 short. Grow the pool with: echo 2248 | sudo tee "
            "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages, or set memory.hugepages: "
            "none");
}

TEST(HugepagePoolError, GibPagesAlsoSayHowToReserveThemAtBoot) {
  const HugepagePool pool{
      .dir = "/sys/kernel/mm/hugepages/hugepages-1048576kB", .free_pages = 1, .total_pages = 2};
  const std::string message =
      hugepage_pool_error(8 * kGiB, kGiB, pool, Error(Errc::kNoResources, "mmap")).message();
  EXPECT_NE(message.find("needs 8 free 1 GiB hugepages but the host has 1 free, 7 short"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("echo 9 | sudo tee"), std::string::npos) << message;
  EXPECT_NE(message.find("hugepagesz=1G hugepages=9 on the kernel command line"), std::string::npos)
      << message;
}

TEST(HugepagePoolError, AMissingPoolAndAPoolWithEnoughPagesSayWhatTheyAre) {
  const Error missing =
      hugepage_pool_error(2 * kGiB, kGiB, {.dir = "/sys/x", .free_pages = -1, .total_pages = -1},
                          Error(Errc::kIo, "x"));
  EXPECT_EQ(missing.code(), Errc::kUnsupported);
  EXPECT_NE(missing.message().find("no 1 GiB hugepage pool (/sys/x is missing)"), std::string::npos)
      << missing.message();
  // Enough pages free, yet mmap failed (a cgroup limit, say): the mmap's own error.
  const Error other =
      hugepage_pool_error(2 * kGiB, kGiB, {.dir = "/sys/x", .free_pages = 2, .total_pages = 2},
                          Error(Errc::kNoResources, "mmap: Cannot allocate memory"));
  EXPECT_NE(other.message().find("mmap: Cannot allocate memory"), std::string::npos);
  EXPECT_EQ(other.message().find("short"), std::string::npos);
}

}  // namespace
}  // namespace ferry::vmm

// Pinning guest RAM for DMA: the mapping goes in 1 GiB chunks with a progress call after each,
// and a memlock limit too small for the guest is an error that names the numbers and the fix.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include "fake_vfio.h"
#include "fake_vfio_recording_vm.h"
#include "ferry/base/units.h"
#include "ferry/vfio/assignment.h"

namespace ferry::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr pci::BridgeWindows kWindows{
    .io = {0xc000, 0x4000},
    .mmio32 = {0xc0000000, 512 * kMiB},
    .mmio64 = {8 * kGiB, 56 * kGiB},
};

TEST(AssignmentPinningTest, MapsGuestRamInGibChunksAndReportsEachOne) {
  FakeJournal journal;
  RecordingVm vm(journal);
  FakeVfio vfio;
  irq::MsiRouteTable routes(vm);
  bus::Bus mmio("mmio"), pio("port");
  // Two ranges as a 5.5 GiB guest has them: 3 GiB below the hole, 2.5 GiB from 4 GiB. Only
  // reserved here: the fake never touches the pages.
  auto ram = Mapping::anonymous(5 * kGiB + 512 * kMiB);
  ASSERT_TRUE(ram) << ram.error().message();
  std::vector<std::pair<uint64_t, uint64_t>> progress;
  auto assignment = vfio::Assignment::create(
      vm,
      {{.gpa = 0, .size = 3 * kGiB, .host = ram->data()},
       {.gpa = 4 * kGiB, .size = 2 * kGiB + 512 * kMiB, .host = ram->data() + 3 * kGiB}},
      vfio, vfio::Backend::kLegacy,
      [&](uint64_t done, uint64_t total) { progress.emplace_back(done, total); });
  ASSERT_TRUE(assignment) << assignment.error().message();
  EXPECT_TRUE(progress.empty());  // nothing is mapped before a group is in the container
  auto device = (*assignment)->assign("0000:01:00.0", 12, routes, {mmio, pio, kWindows});
  ASSERT_TRUE(device) << device.error().message();

  std::vector<std::pair<uint64_t, uint64_t>> maps;  // iova, size
  for (const FakeVfio::DmaMap& m : vfio.dma_maps()) maps.emplace_back(m.iova, m.size);
  std::sort(maps.begin(), maps.end());
  EXPECT_THAT(
      maps, ElementsAre(Pair(0, kGiB), Pair(kGiB, kGiB), Pair(2 * kGiB, kGiB), Pair(4 * kGiB, kGiB),
                        Pair(5 * kGiB, kGiB), Pair(6 * kGiB, 512 * kMiB)));
  for (const FakeVfio::DmaMap& m : vfio.dma_maps()) {
    const uint64_t host_offset = m.iova < 4 * kGiB ? m.iova : m.iova - kGiB;
    EXPECT_EQ(m.vaddr, reinterpret_cast<uint64_t>(ram->data() + host_offset));
  }
  const uint64_t total = 5 * kGiB + 512 * kMiB;
  EXPECT_THAT(progress, ElementsAre(Pair(0, total), Pair(kGiB, total), Pair(2 * kGiB, total),
                                    Pair(3 * kGiB, total), Pair(4 * kGiB, total),
                                    Pair(5 * kGiB, total), Pair(total, total)));
  device->reset();
  assignment->reset();
  EXPECT_TRUE(vfio.dma_maps().empty());  // every chunk unmapped again
}

TEST(MemlockErrorTest, NamesWhatIsNeededWhatIsAllowedTheShortfallAndTheFix) {
  const std::string message = vfio::memlock_error(6 * kGiB, 64 * kMiB, 64 * kMiB).message();
  EXPECT_THAT(message, HasSubstr("needs all 6291456 KiB of guest RAM pinned for DMA"));
  EXPECT_THAT(message, HasSubstr("may lock only 65536 KiB (RLIMIT_MEMLOCK; hard limit 65536 KiB)"));
  EXPECT_THAT(message, HasSubstr("6225920 KiB short"));
  EXPECT_THAT(message, HasSubstr("ulimit -l 6291456 or unlimited"));
  EXPECT_THAT(message, HasSubstr("LimitMEMLOCK=infinity"));
  EXPECT_EQ(vfio::memlock_error(6 * kGiB, 8 * kMiB, 0).code(), Errc::kPermission);
  EXPECT_THAT(vfio::memlock_error(6 * kGiB, 8 * kMiB, RLIM_INFINITY).message(),
              HasSubstr("hard limit unlimited"));
}

}  // namespace
}  // namespace ferry::test

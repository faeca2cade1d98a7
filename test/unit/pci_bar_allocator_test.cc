#include <gtest/gtest.h>

#include "ferry/base/units.h"
#include "ferry/pci/address_allocator.h"
#include "ferry/pci/bar_allocator.h"

namespace ferry::pci {
namespace {

constexpr BridgeWindows kWindows{
    .io = {0xc000, 0x4000},
    .mmio32 = {0xc0000000, 512 * kMiB},
    .mmio64 = {5 * kGiB, (uint64_t{1} << 46) - 5 * kGiB},
};

TEST(AddressWindow, ContainsWholeRangesOnlyAndNothingWhenEmpty) {
  const AddressWindow w{0x1000, 0x1000};
  EXPECT_TRUE(w.contains(0x1000, 0x1000));
  EXPECT_TRUE(w.contains(0x1ff0, 0x10));
  EXPECT_FALSE(w.contains(0x1ff0, 0x11));
  EXPECT_FALSE(w.contains(0xfff, 2));
  EXPECT_FALSE(w.contains(0x1000, 0));
  EXPECT_FALSE(w.contains(0xfffffffffffff000, 0x2000));  // wraps
  EXPECT_FALSE(AddressWindow{}.contains(0, 1));
  EXPECT_EQ(describe(w), "0x1000-0x1fff");
  EXPECT_EQ(describe(AddressWindow{}), "(empty)");
}

TEST(AddressAllocator, FirstFitWithAlignment) {
  AddressAllocator a({0x10000, 0x10000});
  EXPECT_EQ(a.allocate(0x1000, 0x1000), 0x10000u);
  EXPECT_EQ(a.allocate(0x4000, 0x4000), 0x14000u);  // skips the unaligned gap
  EXPECT_EQ(a.allocate(0x1000, 0x1000), 0x11000u);  // then fills it
  EXPECT_EQ(a.allocate(0x2000, 0x2000), 0x12000u);
  EXPECT_EQ(a.allocate(0x8000, 0x8000), 0x18000u);
  EXPECT_EQ(a.allocate(0x1000, 0x1000), std::nullopt);  // full
  EXPECT_TRUE(a.release(0x12000));
  EXPECT_FALSE(a.release(0x12000));
  EXPECT_EQ(a.allocate(0x1000, 0x1000), 0x12000u);
}

TEST(AddressAllocator, RefusesBadRequestsAndTheEndOfTheAddressSpace) {
  AddressAllocator a({0xfffffffffff00000, 0xfffff});
  EXPECT_EQ(a.allocate(0, 0x1000), std::nullopt);
  EXPECT_EQ(a.allocate(0x1000, 0x3000), std::nullopt);  // alignment not a power of two
  EXPECT_EQ(a.allocate(0x100000, 0x100000), std::nullopt);
  EXPECT_EQ(a.allocate(0x1000, uint64_t{1} << 63), std::nullopt);  // aligning overflows
  EXPECT_EQ(a.allocate(0x80000, 0x80000), 0xfffffffffff00000u);
  EXPECT_EQ(a.allocate(0x80000, 0x80000), std::nullopt);  // one byte short of the window
}

TEST(AddressAllocator, ReserveTakesOnlyFreeRangesInsideTheWindow) {
  AddressAllocator a({0x1000, 0x10000});
  EXPECT_TRUE(a.reserve(0x4000, 0x1000));
  EXPECT_FALSE(a.reserve(0x3fff, 2));
  EXPECT_FALSE(a.reserve(0x4fff, 1));
  EXPECT_FALSE(a.reserve(0x0, 0x1001));
  EXPECT_FALSE(a.reserve(0x10000, 0x2000));
  EXPECT_TRUE(a.reserve(0x5000, 0x1000));
  EXPECT_EQ(a.allocate(0x3000, 0x1000), 0x1000u);
  EXPECT_EQ(a.allocate(0x1000, 0x1000), 0x6000u);
}

TEST(BarAllocator, EachKindGoesToItsWindowNaturallyAligned) {
  BarAllocator bars(kWindows);
  EXPECT_EQ(bars.allocate({BarKind::kIo, 0x20}), 0xc000u);
  EXPECT_EQ(bars.allocate({BarKind::kIo, 0x100}), 0xc100u);
  EXPECT_EQ(bars.allocate({BarKind::kIo, 0x4}), 0xc020u);
  EXPECT_EQ(bars.allocate({BarKind::kMemory32, 0x1000}), 0xc0000000u);
  EXPECT_EQ(bars.allocate({BarKind::kMemory32, 16 * kMiB}), 0xc1000000u);
  EXPECT_EQ(bars.allocate({BarKind::kMemory64, 0x4000}), 5 * kGiB);
  // A 32 GiB GPU BAR lands on a 32 GiB boundary, not at the window's 1 GiB-aligned start.
  EXPECT_EQ(bars.allocate({BarKind::kMemory64, 32 * kGiB, true}), 32 * kGiB);
  EXPECT_EQ(bars.allocate({BarKind::kMemory64, 128 * kGiB, true}), 128 * kGiB);
}

TEST(BarAllocator, SmallMemoryBarsStillTakeAWholePage) {
  BarAllocator bars(kWindows);
  EXPECT_EQ(bars.allocate({BarKind::kMemory32, 16}), 0xc0000000u);
  EXPECT_EQ(bars.allocate({BarKind::kMemory32, 16}), 0xc0001000u);
}

TEST(BarAllocator, SixtyFourBitBarsFallBackToThe32BitWindow) {
  BridgeWindows windows = kWindows;
  windows.mmio64 = {};
  BarAllocator bars(windows);
  EXPECT_EQ(bars.allocate({BarKind::kMemory64, 0x4000}), 0xc0000000u);
  auto huge = bars.allocate({BarKind::kMemory64, 64 * kGiB});
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code(), Errc::kNoResources);
  EXPECT_NE(huge.error().message().find("64-bit MMIO window (empty)"), std::string::npos)
      << huge.error().message();
  EXPECT_NE(huge.error().message().find("physical address bits"), std::string::npos);
}

TEST(BarAllocator, FullWindowsSayWhichWindowAndWhatToDo) {
  BarAllocator bars(kWindows);
  ASSERT_TRUE(bars.allocate({BarKind::kMemory32, 512 * kMiB}));
  auto no_room = bars.allocate({BarKind::kMemory32, 0x1000});
  ASSERT_FALSE(no_room);
  EXPECT_EQ(no_room.error().message(),
            "no room for a 32-bit memory BAR of 4 KiB in the 32-bit MMIO window "
            "0xc0000000-0xdfffffff; use fewer devices with 32-bit BARs");
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(bars.allocate({BarKind::kIo, 0x100}));
  auto no_ports = bars.allocate({BarKind::kIo, 0x4});
  ASSERT_FALSE(no_ports);
  EXPECT_NE(no_ports.error().message().find("I/O port window 0xc000-0xffff"), std::string::npos);
}

TEST(BarAllocator, RejectsSizesABarCannotDecode) {
  BarAllocator bars(kWindows);
  EXPECT_FALSE(bars.allocate({BarKind::kMemory32, 0x3000}));
  EXPECT_FALSE(bars.allocate({BarKind::kMemory32, 8}));
  EXPECT_FALSE(bars.allocate({BarKind::kMemory32, 4 * kGiB}));
  EXPECT_FALSE(bars.allocate({BarKind::kIo, 0x200}));
  EXPECT_FALSE(bars.allocate({BarKind::kIo, 2}));
  EXPECT_FALSE(bars.allocate({BarKind::kIo, 0x10, true}));
  EXPECT_FALSE(bars.allocate({BarKind::kMemory64, 0}));
  auto odd = bars.allocate({BarKind::kMemory64, 3 * kGiB});
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().message(),
            "64-bit memory BAR of 3 GiB: the size must be a power of two from 16 B to 8388608 "
            "TiB");
}

}  // namespace
}  // namespace ferry::pci

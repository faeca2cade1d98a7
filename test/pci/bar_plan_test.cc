// Guest windows and BAR placement, with the BARs of the lab's real devices.
#include "ferry/pci/host/bar_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/base/units.h"
#include "pci_fixtures.h"

namespace ferry::pci::host {
namespace {

using testing::HasSubstr;

const Inventory& lab() {
  static const Inventory inventory = *Inventory::scan({test::sysfs_fixture("lab-q35"), ""});
  return inventory;
}

const HostDevice& lab_device(const char* bdf) {
  const HostDevice* device = lab().find(*Bdf::parse(bdf));
  EXPECT_NE(device, nullptr) << bdf;
  return *device;
}

GuestWindows windows(uint64_t ram_top, unsigned phys_bits) {
  auto w = GuestWindows::for_guest(ram_top, phys_bits);
  EXPECT_TRUE(w) << w.error().message();
  return *w;
}

const BarPlacement& placement(const BarPlan& plan, unsigned index) {
  for (const BarPlacement& p : plan.placements) {
    if (p.index == index) return p;
  }
  ADD_FAILURE() << "no placement for " << bar_label(index);
  return plan.placements.front();
}

TEST(GuestWindows, SixtyFourBitWindowStartsAboveRamAndFourGiB) {
  GuestWindows small = windows(2 * kGiB, 40);
  EXPECT_EQ(small.mmio32.start, 0xc0000000u);
  EXPECT_EQ(small.mmio32.end, 0xdfffffffu);
  ASSERT_TRUE(small.mmio64);
  EXPECT_EQ(small.mmio64->start, 4 * kGiB);
  EXPECT_EQ(small.mmio64->end, (uint64_t{1} << 40) - 1);
  GuestWindows big = windows(4 * kGiB + 5 * kGiB + 12345, 46);  // 8 GiB RAM + change
  EXPECT_EQ(big.mmio64->start, 10 * kGiB);
  EXPECT_FALSE(windows(64 * kGiB, 36).mmio64);  // RAM reaches the top: no window
}

TEST(GuestWindows, RejectsImpossiblePhysBits) {
  for (unsigned bits : {0u, 31u, 53u, 64u}) {
    auto w = GuestWindows::for_guest(kGiB, bits);
    ASSERT_FALSE(w) << bits;
    EXPECT_EQ(w.error().code(), Errc::kInvalidArgument);
    EXPECT_THAT(w.error().message(), HasSubstr(std::to_string(bits)));
  }
}

TEST(BarPlan, E1000ePlacesEveryBarNaturallyAligned) {
  const HostDevice& e1000e = lab_device("0000:02:00.0");
  const BarPlan plan = plan_bars(e1000e, windows(2 * kGiB, 40), {});
  ASSERT_TRUE(plan.fits());
  ASSERT_EQ(plan.placements.size(), 5u);  // BAR0-3 and the ROM
  for (const BarPlacement& p : plan.placements) {
    EXPECT_EQ(*p.guest_address % std::max<uint64_t>(p.size, 4096), 0u) << bar_label(p.index);
  }
  EXPECT_EQ(placement(plan, 2).window, "io");
  EXPECT_EQ(placement(plan, 2).guest_address, 0xc000u);
  EXPECT_EQ(placement(plan, kRomIndex).window, "mmio32");
  EXPECT_EQ(placement(plan, 0).window, "mmio32");
  // Largest first: the 256 KiB ROM at the window's start, then the 128 KiB BARs.
  EXPECT_EQ(placement(plan, kRomIndex).guest_address, 0xc0000000u);
  EXPECT_EQ(placement(plan, 0).guest_address, 0xc0040000u);
}

TEST(BarPlan, SixtyFourBitBarGoesHighAndFallsBackLow) {
  const HostDevice& ivshmem = lab_device("0000:07:00.0");  // BAR2: 1 GiB 64-bit prefetchable
  const BarPlan high = plan_bars(ivshmem, windows(2 * kGiB, 40), {});
  EXPECT_EQ(placement(high, 2).window, "mmio64");
  EXPECT_EQ(placement(high, 2).guest_address, 4 * kGiB);
  // No 64-bit window: the 512 MiB 32-bit window cannot hold 1 GiB.
  const BarPlan none = plan_bars(ivshmem, windows(64 * kGiB, 36), {});
  EXPECT_FALSE(none.fits());
  EXPECT_FALSE(placement(none, 2).guest_address);
  EXPECT_TRUE(placement(none, 0).guest_address);  // the 256-byte BAR0 still fits
  // A small 64-bit BAR falls back to the 32-bit window.
  const HostDevice& nvme = lab_device("0000:01:00.0");
  const BarPlan low = plan_bars(nvme, windows(64 * kGiB, 36), {});
  EXPECT_EQ(placement(low, 0).window, "mmio32");
}

TEST(BarPlan, IommuWidthClampsTheSixtyFourBitWindow) {
  const HostDevice& ivshmem = lab_device("0000:07:00.0");
  IommuLimits limits{.address_bits = 39, .reserved = {}};
  const BarPlan plan = plan_bars(ivshmem, windows(2 * kGiB, 46), limits);
  ASSERT_TRUE(plan.windows.mmio64);
  EXPECT_EQ(plan.windows.mmio64->end, (uint64_t{1} << 39) - 1);
  EXPECT_TRUE(plan.fits());
  // RAM above the IOMMU's reach leaves no 64-bit window at all.
  const BarPlan beyond = plan_bars(ivshmem, windows(600 * kGiB, 46), limits);
  EXPECT_FALSE(beyond.windows.mmio64);
  EXPECT_FALSE(beyond.fits());
}

TEST(BarPlan, ReservedRegionsAreAvoided) {
  const HostDevice& ivshmem = lab_device("0000:07:00.0");
  // AMD hosts reserve 0xfd00000000-0xffffffffff (HyperTransport) in every group.
  IommuLimits limits{.address_bits = std::nullopt,
                     .reserved = {{0x100000000, 0x17fffffff, "reserved"}}};
  const BarPlan plan = plan_bars(ivshmem, windows(2 * kGiB, 40), limits);
  EXPECT_EQ(placement(plan, 2).guest_address, 0x180000000u);
  // Reserved regions cut the 32-bit window too: leave only 1 MiB at its top.
  IommuLimits squeezed{.address_bits = std::nullopt,
                       .reserved = {{0xc0000000, 0xdfefffff, "direct"}}};
  const HostDevice& e1000e = lab_device("0000:02:00.0");
  const BarPlan tight = plan_bars(e1000e, windows(2 * kGiB, 40), squeezed);
  EXPECT_TRUE(tight.fits());  // 256K + 2 x 128K + 16K fit in 1 MiB
  EXPECT_GE(*placement(tight, kRomIndex).guest_address, 0xdff00000u);
}

TEST(BarPlan, DeviceWithoutBarsFits) {
  const HostDevice& lpc = lab_device("0000:00:1f.0");
  const BarPlan plan = plan_bars(lpc, windows(2 * kGiB, 40), {});
  EXPECT_TRUE(plan.placements.empty());
  EXPECT_TRUE(plan.fits());
}

}  // namespace
}  // namespace ferry::pci::host

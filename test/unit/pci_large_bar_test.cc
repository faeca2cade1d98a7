// Placement of large 64-bit BARs (GPU-sized: 1-512 GiB) by the guest's firmware part of ferry:
// create_pci with host devices that have such BARs, the window clamped to the vCPU's physical
// address bits and to the IOMMU's, reserved regions avoided, and the error of a BAR that does
// not fit (issue 13, docs/pci-bus.md).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "ferry/base/units.h"
#include "ferry/pci/config_regs.h"
#include "ferry/vmm/memory_layout.h"
#include "ferry/vmm/pci_platform.h"
#include "support/mock_accel.h"

namespace ferry::vmm {
namespace {

constexpr uint64_t kTiB = 1024 * kGiB;

// A GPU-shaped function: BAR 0 16 MiB of 32-bit registers, BAR 2 a 64-bit prefetchable
// aperture of `aperture` bytes.
class GpuLike final : public pci::Endpoint {
 public:
  GpuLike(pci::BarSpaces spaces, uint64_t aperture)
      : Endpoint("gpu-like",
                 {.vendor_id = 0x10de,
                  .device_id = 0x2330,
                  .class_code = 0x030200,
                  .revision = 0,
                  .subsystem_vendor_id = 0,
                  .subsystem_id = 0},
                 std::move(spaces)),
        aperture_(aperture) {}
  Expected<void> set_up() {
    FERRY_TRY(add_bar(0, {pci::BarKind::kMemory32, 16 * kMiB, false}));
    return add_bar(2, {pci::BarKind::kMemory64, aperture_, true});
  }

 protected:
  void bar_read(unsigned, uint64_t, std::span<uint8_t> data) noexcept override {
    std::memset(data.data(), 0, data.size());
  }
  void bar_write(unsigned, uint64_t, std::span<const uint8_t>) noexcept override {}

 private:
  uint64_t aperture_;
};

class LargeBars : public ::testing::Test {
 protected:
  // A VM with `memory` of RAM and one GPU-like vfio device per entry of `apertures`.
  Expected<std::unique_ptr<pci::RootComplex>> create(uint64_t memory, unsigned cpu_bits,
                                                     const std::vector<uint64_t>& apertures,
                                                     const IommuConstraints& iommu = {}) {
    config_.memory_size = memory;
    config_.devices.clear();
    for (size_t i = 0; i < apertures.size(); ++i) {
      config_.devices.push_back({DeviceType::kVfio, std::nullopt, fmt::format("0000:6{}:00.0", i)});
    }
    const HostDeviceMaker maker =
        [&](size_t entry, pci::BarSpaces spaces) -> Expected<std::shared_ptr<pci::Endpoint>> {
      auto gpu = std::make_shared<GpuLike>(std::move(spaces), apertures[entry]);
      FERRY_TRY(gpu->set_up());
      return gpu;
    };
    return create_pci(config_, cpu_bits, routes_, mmio_, pio_, maker, iommu);
  }
  // BAR `index` (64-bit for 2) of the function in `slot`, as the guest reads it through ECAM.
  uint64_t bar(unsigned slot, unsigned index) {
    const auto dword = [&](unsigned reg) {
      uint32_t value = 0;
      mmio_.read(kPciEcamBase + (slot << 15) + reg, {reinterpret_cast<uint8_t*>(&value), 4});
      return value;
    };
    const uint64_t low = dword(pci::kBar0 + 4 * index) & ~0xfu;
    return index == 2 ? uint64_t{dword(pci::kBar0 + 4 * index + 4)} << 32 | low : low;
  }

  test::StrictMockVm vm_;
  irq::MsiRouteTable routes_{vm_};
  bus::Bus mmio_{"mmio"}, pio_{"port"};
  VmConfig config_;
};

TEST_F(LargeBars, OneEightAnd32GiBBarsOfSeveralDevicesLandNaturallyAlignedInThe64BitWindow) {
  auto root = create(64 * kMiB, 46, {1 * kGiB, 8 * kGiB, 32 * kGiB});
  ASSERT_TRUE(root) << root.error().message();
  // Slots 1-3 in spec order; each aperture on the first boundary of its own size above 4 GiB.
  EXPECT_EQ(bar(1, 2), 4 * kGiB);
  EXPECT_EQ(bar(2, 2), 8 * kGiB);
  EXPECT_EQ(bar(3, 2), 32 * kGiB);
  // The 16 MiB register BARs stay in the 32-bit window, each aligned to 16 MiB.
  EXPECT_EQ(bar(1, 0), 0xc0000000u);
  EXPECT_EQ(bar(2, 0), 0xc1000000u);
  EXPECT_EQ(bar(3, 0), 0xc2000000u);
}

TEST_F(LargeBars, ASecondBarOfASizeTakesTheNextBoundaryOfThatSize) {
  auto root = create(64 * kMiB, 46, {8 * kGiB, 1 * kGiB, 8 * kGiB, 32 * kGiB, 32 * kGiB});
  ASSERT_TRUE(root) << root.error().message();
  EXPECT_EQ(bar(1, 2), 8 * kGiB);
  EXPECT_EQ(bar(2, 2), 4 * kGiB);  // the gap below the first 8 GiB BAR
  EXPECT_EQ(bar(3, 2), 16 * kGiB);
  EXPECT_EQ(bar(4, 2), 32 * kGiB);
  EXPECT_EQ(bar(5, 2), 64 * kGiB);
}

TEST_F(LargeBars, RamAboveFourGiBMovesTheWindowAndTheBarsUp) {
  // 40 GiB of RAM ends at 41 GiB (the 3-4 GiB hole): the window starts at 41 GiB.
  auto root = create(40 * kGiB, 46, {1 * kGiB, 8 * kGiB, 32 * kGiB});
  ASSERT_TRUE(root) << root.error().message();
  EXPECT_EQ(bar(1, 2), 41 * kGiB);
  EXPECT_EQ(bar(2, 2), 48 * kGiB);
  EXPECT_EQ(bar(3, 2), 64 * kGiB);
}

TEST_F(LargeBars, ABarFitsBelowANarrowerIommusEnd) {
  // The vCPU addresses 64 TiB, the IOMMU 512 GiB: a 256 GiB BAR fits, below 2^39.
  auto fits = create(64 * kMiB, 46, {256 * kGiB}, {.address_bits = 39, .reserved = {}});
  ASSERT_TRUE(fits) << fits.error().message();
  EXPECT_EQ(bar(1, 2), 256 * kGiB);
}

TEST_F(LargeBars, TheWindowEndsWhereANarrowerIommuEnds) {
  // Two 256 GiB BARs do not: the second would need [512 GiB, 768 GiB), past the IOMMU's 2^39.
  auto two = create(64 * kMiB, 46, {256 * kGiB, 256 * kGiB}, {.address_bits = 39, .reserved = {}});
  ASSERT_FALSE(two);
  EXPECT_EQ(two.error().code(), Errc::kNoResources);
  EXPECT_EQ(two.error().message(),
            "devices[1] (vfio 0000:61:00.0): gpu-like at 00:02.0: BAR 2: no room for a 64-bit "
            "memory prefetchable BAR of 256 GiB in the 64-bit MMIO window "
            "0x100000000-0x7fffffffff (508 GiB) nor in the 32-bit window 0xc0000000-0xdfffffff; "
            "the 64-bit window starts above guest RAM and ends at 2^39, where the host IOMMU's "
            "39-bit DMA addresses end (the vCPU has 46 physical address bits), so the VM needs "
            "fewer or smaller large BARs, less RAM, or more physical address bits (a host whose "
            "CPU and IOMMU address more memory)");
}

TEST_F(LargeBars, ABarLargerThanTheVcpuCanAddressNamesTheDeviceTheBarAndTheFix) {
  // 39 physical address bits (512 GiB), and a 1 TiB BAR: it cannot fit however RAM is set.
  auto root = create(64 * kMiB, 39, {1 * kTiB});
  ASSERT_FALSE(root);
  const std::string& message = root.error().message();
  EXPECT_NE(message.find("devices[0] (vfio 0000:60:00.0): gpu-like at 00:01.0: BAR 2: "),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("64-bit memory prefetchable BAR of 1 TiB"), std::string::npos) << message;
  EXPECT_NE(message.find("window 0x100000000-0x7fffffffff (508 GiB)"), std::string::npos)
      << message;
  EXPECT_NE(message.find("ends at 2^39, where the vCPU's 39 physical address bits end"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("more physical address bits"), std::string::npos) << message;
}

TEST_F(LargeBars, TooMuchRamLeavesNoAlignedRoomAndTheErrorSaysLessRam) {
  // 37 bits: the window ends at 128 GiB. With 70 GiB of RAM it starts at 71 GiB, and a 64 GiB
  // BAR has no 64 GiB boundary left inside it (with 48 GiB it has: the next test).
  auto crowded = create(70 * kGiB, 37, {64 * kGiB});
  ASSERT_FALSE(crowded);
  EXPECT_NE(crowded.error().message().find("window 0x11c0000000-0x1fffffffff (57 GiB)"),
            std::string::npos)
      << crowded.error().message();
  EXPECT_NE(crowded.error().message().find("less RAM"), std::string::npos);
}

TEST_F(LargeBars, LessRamLeavesRoomForTheSameBar) {
  auto roomy = create(48 * kGiB, 37, {64 * kGiB});
  ASSERT_TRUE(roomy) << roomy.error().message();
  EXPECT_EQ(bar(1, 2), 64 * kGiB);
}

TEST_F(LargeBars, BarsStayOutOfTheIommusReservedRegions) {
  // A reserved range at 8-9 GiB (as the AMD hole below 1 TiB would be): the 8 GiB BAR skips it.
  auto root = create(64 * kMiB, 46, {1 * kGiB, 8 * kGiB},
                     {.address_bits = std::nullopt, .reserved = {{8 * kGiB, 1 * kGiB}}});
  ASSERT_TRUE(root) << root.error().message();
  EXPECT_EQ(bar(1, 2), 4 * kGiB);
  EXPECT_EQ(bar(2, 2), 16 * kGiB);
}

TEST(Mmio64End, NamesTheNarrowerOfTheVcpuAndTheIommu) {
  EXPECT_EQ(mmio64_end(46, {}), "at 2^46, where the vCPU's 46 physical address bits end");
  EXPECT_EQ(mmio64_end(46, {.address_bits = 48, .reserved = {}}),
            "at 2^46, where the vCPU's 46 physical address bits end");
  EXPECT_EQ(mmio64_end(48, {.address_bits = 39, .reserved = {}}),
            "at 2^39, where the host IOMMU's 39-bit DMA addresses end (the vCPU has 48 physical "
            "address bits)");
}

}  // namespace
}  // namespace ferry::vmm

// Root ports: a device alone on the bus below a port of its own, the port's bus numbers and
// windows as firmware (ferry) sets them, configuration accesses routed by the guest's bus numbers,
// and the port's Secondary Bus Reset reaching the device below (issue 13, docs/pci-bus.md).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "ferry/base/units.h"
#include "ferry/pci/config_regs.h"
#include "ferry/pci/root_complex.h"

namespace ferry::pci {
namespace {

constexpr uint64_t kEcamBase = 0xe0000000;
constexpr BridgeWindows kWindows{
    .io = {0xc000, 0x4000}, .mmio32 = {0xc0000000, 512 * kMiB}, .mmio64 = {4 * kGiB, 60 * kGiB}};

// A card with the BARs it is given, an INTx pin wired to `line`, and a count of bus resets.
class Card final : public Endpoint {
 public:
  Card(BarSpaces spaces, uint16_t device_id)
      : Endpoint("card", {.vendor_id = 0x1af4, .device_id = device_id}, spaces) {}
  Expected<void> bar(unsigned index, BarKind kind, uint64_t size, bool prefetchable = false) {
    return add_bar(index, {kind, size, prefetchable});
  }
  Expected<void> rom(size_t size) { return set_rom(std::vector<uint8_t>(size, 0x55)); }
  void wire(uint8_t pin, uint8_t line) {
    config().set(kInterruptPin, 1, pin);
    config().set(kInterruptLine, 1, line);
  }
  void secondary_bus_reset() override { ++resets; }
  unsigned resets = 0;

 protected:
  void bar_read(unsigned, uint64_t, std::span<uint8_t> data) noexcept override {
    std::memset(data.data(), 0, data.size());
  }
  void bar_write(unsigned, uint64_t, std::span<const uint8_t>) noexcept override {}
};

class RootPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = RootComplex::create(mmio_, pio_,
                                    {.windows = kWindows,
                                     .ecam_base = kEcamBase,
                                     .ecam_size = 256 * kMiB,
                                     .excluded = {},
                                     .mmio64_end = {}});
    ASSERT_TRUE(root) << root.error().message();
    root_ = std::move(*root);
  }

  // An NVMe-shaped card: a 16 KiB 64-bit register BAR that is not prefetchable, a 1 GiB 64-bit
  // prefetchable BAR, 32 I/O ports and a 64 KiB ROM.
  std::shared_ptr<Card> card(uint16_t id = 0x1110) {
    auto c = std::make_shared<Card>(root_->bar_spaces(), id);
    EXPECT_TRUE(c->bar(0, BarKind::kMemory64, 16 * kKiB));
    EXPECT_TRUE(c->bar(2, BarKind::kMemory64, kGiB, true));
    EXPECT_TRUE(c->bar(4, BarKind::kIo, 32));
    EXPECT_TRUE(c->rom(64 * kKiB));
    return c;
  }

  uint32_t read(unsigned bus, unsigned slot, uint16_t reg, unsigned size = 4) {
    uint32_t value = 0;
    mmio_.read(kEcamBase + (uint64_t{bus} << 20 | slot << 15 | reg),
               {reinterpret_cast<uint8_t*>(&value), size});
    return value;
  }
  void write(unsigned bus, unsigned slot, uint16_t reg, unsigned size, uint32_t value) {
    mmio_.write(kEcamBase + (uint64_t{bus} << 20 | slot << 15 | reg),
                {reinterpret_cast<const uint8_t*>(&value), size});
  }
  uint32_t cf8_read(unsigned bus, unsigned slot, uint8_t reg) {
    uint32_t address = 0x80000000u | bus << 16 | slot << 11 | reg;
    pio_.write(0xcf8, {reinterpret_cast<const uint8_t*>(&address), 4});
    uint32_t value = 0;
    pio_.read(0xcfc, {reinterpret_cast<uint8_t*>(&value), 4});
    return value;
  }
  uint64_t bar64(unsigned bus, unsigned index) {
    return uint64_t{read(bus, 0, kBar0 + 4 * index + 4)} << 32 |
           (read(bus, 0, kBar0 + 4 * index) & ~0xfu);
  }
  // The port's windows decoded from its registers as Linux reads them (PCI-to-PCI Bridge 1.2).
  PortWindows windows(unsigned slot) {
    PortWindows w;
    const uint32_t io_base = (read(0, slot, kIoBase, 1) & 0xf0) << 8;
    const uint32_t io_limit = (read(0, slot, kIoLimit, 1) & 0xf0) << 8 | 0xfff;
    if (io_base <= io_limit) w.io = {io_base, io_limit - io_base + 1};
    const uint64_t mem_base = uint64_t{read(0, slot, kMemoryBase, 2) & 0xfff0u} << 16;
    const uint64_t mem_limit = uint64_t{read(0, slot, kMemoryLimit, 2) & 0xfff0u} << 16 | 0xfffff;
    if (mem_base <= mem_limit) w.memory = {mem_base, mem_limit - mem_base + 1};
    const uint64_t pref_base = uint64_t{read(0, slot, kPrefetchableBaseUpper)} << 32 |
                               uint64_t{read(0, slot, kPrefetchableBase, 2) & 0xfff0u} << 16;
    const uint64_t pref_limit = uint64_t{read(0, slot, kPrefetchableLimitUpper)} << 32 |
                                uint64_t{read(0, slot, kPrefetchableLimit, 2) & 0xfff0u} << 16 |
                                0xfffff;
    if (pref_base <= pref_limit) w.prefetchable = {pref_base, pref_limit - pref_base + 1};
    return w;
  }

  bus::Bus mmio_{"mmio"};
  bus::Bus pio_{"port"};
  std::unique_ptr<RootComplex> root_;
};

TEST_F(RootPortTest, APortIsAType1BridgeOnBus0WithItsDeviceAloneOnTheNextBus) {
  auto placed = root_->add_behind_port(card(), 3);
  ASSERT_TRUE(placed) << placed.error().message();
  EXPECT_EQ(placed->slot, 3u);
  EXPECT_EQ(placed->bus, 1u);
  EXPECT_EQ(root_->bus_count(), 2u);
  EXPECT_EQ(read(0, 3, kHeaderType, 1), kHeaderTypeBridge);
  EXPECT_EQ(read(0, 3, kRevision) >> 8, 0x060400u);  // PCI-to-PCI bridge
  EXPECT_EQ(read(0, 3, kPrimaryBus), 0x00010100u);   // primary 0, secondary 1, subordinate 1
  // A PCI Express Root Port whose link is up.
  const uint32_t pcie = read(0, 3, kCapabilityPointer, 1);
  ASSERT_EQ(read(0, 3, pcie, 1), kCapPcie);
  EXPECT_EQ(read(0, 3, pcie + kPcieFlags, 2) >> 4 & 0xf, 0x4u);
  EXPECT_NE(read(0, 3, pcie + kPcieLinkStatus, 2) & (1u << 13), 0u);
  // The device is device 0 of bus 1 on both mechanisms, and nothing else is on that bus.
  EXPECT_EQ(read(1, 0, kVendorId), 0x11101af4u);
  EXPECT_EQ(cf8_read(1, 0, kVendorId), 0x11101af4u);
  EXPECT_EQ(read(1, 1, kVendorId), 0xffffffffu);
  EXPECT_EQ(read(2, 0, kVendorId), 0xffffffffu);
  EXPECT_EQ(read(0, 4, kVendorId), 0xffffffffu);
}

TEST_F(RootPortTest, TheWindowsHoldTheDevicesBarsWithNonPrefetchable64BitBarsBelow4GiB) {
  ASSERT_TRUE(root_->add_behind_port(card(), 1));
  const PortWindows w = windows(1);
  EXPECT_EQ(w.io.size, 4 * kKiB);
  EXPECT_EQ(w.memory.size, kMiB);
  EXPECT_EQ(w.prefetchable.size, kGiB);
  EXPECT_EQ(read(0, 1, kPrefetchableBase, 2) & 0xf, kPrefetchable64);
  // A bridge forwards 64-bit addresses only through its prefetchable window.
  EXPECT_TRUE(w.memory.contains(bar64(1, 0), 16 * kKiB));
  EXPECT_LT(bar64(1, 0), 4 * kGiB);
  EXPECT_TRUE(w.prefetchable.contains(bar64(1, 2), kGiB));
  EXPECT_GE(bar64(1, 2), kWindows.mmio64.base);
  EXPECT_EQ(bar64(1, 2) % kGiB, 0u);
  EXPECT_TRUE(w.io.contains(read(1, 0, kBar0 + 16) & ~0x3u, 32));
  EXPECT_TRUE(w.memory.contains(read(1, 0, kRomBar) & kRomAddressMask, 64 * kKiB));
  EXPECT_TRUE(kWindows.mmio32.contains(w.memory.base, w.memory.size));
  EXPECT_TRUE(kWindows.io.contains(w.io.base, w.io.size));
}

TEST_F(RootPortTest, ARegisterBarStaysOutOfThePrefetchableWindowEvenWhereItHasRoom) {
  auto small = std::make_shared<Card>(root_->bar_spaces(), 1);
  ASSERT_TRUE(small->bar(0, BarKind::kMemory64, 16 * kKiB));
  ASSERT_TRUE(small->bar(2, BarKind::kMemory64, 256 * kKiB, true));  // a 1 MiB window, 3/4 free
  ASSERT_TRUE(root_->add_behind_port(small, 1));
  EXPECT_TRUE(windows(1).memory.contains(bar64(1, 0), 16 * kKiB));
  EXPECT_TRUE(windows(1).prefetchable.contains(bar64(1, 2), 256 * kKiB));
}

TEST_F(RootPortTest, TwoPortsGetTheirOwnBusesAndWindowsThatDoNotOverlap) {
  ASSERT_TRUE(root_->add_behind_port(card(0x1110), 2));
  auto second = root_->add_behind_port(card(0x1111), std::nullopt);
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->slot, 1u);  // the lowest free slot
  EXPECT_EQ(second->bus, 2u);
  EXPECT_EQ(root_->bus_count(), 3u);
  EXPECT_EQ(read(1, 0, kVendorId) >> 16, 0x1110u);
  EXPECT_EQ(read(2, 0, kVendorId) >> 16, 0x1111u);
  const PortWindows a = windows(2), b = windows(1);
  const auto apart = [](const AddressWindow& x, const AddressWindow& y) {
    return x.base + x.size <= y.base || y.base + y.size <= x.base;
  };
  EXPECT_TRUE(apart(a.io, b.io));
  EXPECT_TRUE(apart(a.memory, b.memory));
  EXPECT_TRUE(apart(a.prefetchable, b.prefetchable));
}

TEST_F(RootPortTest, ConfigurationAccessesFollowTheBusNumbersTheGuestProgrammed) {
  ASSERT_TRUE(root_->add_behind_port(card(), 1));
  write(0, 1, kSecondaryBus, 2, 0x0505);  // secondary and subordinate 5
  EXPECT_EQ(read(5, 0, kVendorId), 0x11101af4u);
  EXPECT_EQ(read(1, 0, kVendorId), 0xffffffffu);
  write(0, 1, kSubordinateBus, 1, 7);  // buses 6-7 lie behind it, with nothing on them
  EXPECT_EQ(read(6, 0, kVendorId), 0xffffffffu);
  write(0, 1, kSecondaryBus, 1, 0);  // unconfigured: bus 0 is never below a port
  EXPECT_EQ(read(0, 0, kVendorId), 0xfe001234u);
  EXPECT_EQ(read(5, 0, kVendorId), 0xffffffffu);
}

TEST_F(RootPortTest, SecondaryBusResetResetsTheDeviceBelowAtEachAssertion) {
  auto below = card();
  auto other = card(0x1111);
  ASSERT_TRUE(root_->add_behind_port(below, 1));
  ASSERT_TRUE(root_->add_behind_port(other, 2));
  write(0, 1, kBridgeControl, 2, kBridgeControlSecondaryReset);
  write(0, 1, kBridgeControl, 2, kBridgeControlSecondaryReset);  // still held: no new reset
  EXPECT_EQ(below->resets, 1u);
  write(0, 1, kBridgeControl, 2, 0);
  write(0, 1, kBridgeControl, 2, kBridgeControlSecondaryReset);
  EXPECT_EQ(below->resets, 2u);
  EXPECT_EQ(other->resets, 0u);  // alone: the other port's device is not touched
  EXPECT_EQ(read(0, 1, kBridgeControl, 2), kBridgeControlSecondaryReset);
}

TEST_F(RootPortTest, ADevicesInterruptPinIsRoutedAtItsPortsSlot) {
  auto wired = card();
  wired->wire(2, 18);
  ASSERT_TRUE(root_->add_behind_port(wired, 4));
  EXPECT_EQ(root_->intx_routes(), (std::vector<IntxRoute>{{.slot = 4, .pin = 2, .gsi = 18}}));
  EXPECT_EQ(read(0, 4, kInterruptPin, 1), 0u);  // the port itself raises no INTx
}

TEST_F(RootPortTest, WhenTheIoWindowIsFullAPortGetsNoneAndItsDevicesIoBarStaysUnassigned) {
  for (unsigned slot = 1; slot <= 4; ++slot) ASSERT_TRUE(root_->add_behind_port(card(), slot));
  ASSERT_TRUE(root_->add_behind_port(card(), 5));  // 16 KiB of ports: four 4 KiB windows
  EXPECT_EQ(windows(5).io.size, 0u);
  EXPECT_EQ(read(5, 0, kBar0 + 16) & ~0x3u, 0u);
  EXPECT_TRUE(windows(5).memory.contains(bar64(5, 0), 16 * kKiB));
}

TEST_F(RootPortTest, APrefetchableWindowThatDoesNotFitSaysWhereAndWhy) {
  auto huge = std::make_shared<Card>(root_->bar_spaces(), 1);
  ASSERT_TRUE(huge->bar(0, BarKind::kMemory64, 64 * kGiB, true));
  auto placed = root_->add_behind_port(huge, 6);
  ASSERT_FALSE(placed);
  EXPECT_NE(placed.error().message().find("card at 01:00.0 (behind the root port at 00:06.0)"),
            std::string::npos)
      << placed.error().message();
  EXPECT_NE(placed.error().message().find("prefetchable window"), std::string::npos);
  EXPECT_EQ(read(0, 6, kVendorId), 0xffffffffu);  // nothing half-added
  EXPECT_EQ(root_->bus_count(), 1u);
}

}  // namespace
}  // namespace ferry::pci

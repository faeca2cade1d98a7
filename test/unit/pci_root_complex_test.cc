#include <gtest/gtest.h>

#include "ferry/base/units.h"
#include "ferry/guests/pcitest.h"
#include "ferry/pci/config_ports.h"
#include "ferry/pci/ecam.h"
#include "ferry/pci/pci_test_device.h"
#include "ferry/pci/root_complex.h"
#include "support/mock_accel.h"

namespace ferry::pci {
namespace {

using ::testing::StrictMock;

constexpr uint64_t kEcamBase = 0xe0000000;

class RootComplexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = RootComplex::create(mmio_, pio_,
                                    {.windows = {.io = {0xc000, 0x4000},
                                                 .mmio32 = {0xc0000000, 512 * kMiB},
                                                 .mmio64 = {4 * kGiB, 60 * kGiB}},
                                     .ecam_base = kEcamBase,
                                     .ecam_size = 256 * kMiB,
                                     .excluded = {},
                                     .mmio64_end = {}});
    ASSERT_TRUE(root) << root.error().message();
    root_ = std::move(*root);
  }

  uint32_t port_read(uint16_t port, unsigned size) {
    uint32_t value = 0;
    pio_.read(port, {reinterpret_cast<uint8_t*>(&value), size});
    return value;
  }
  void port_write(uint16_t port, unsigned size, uint32_t value) {
    pio_.write(port, {reinterpret_cast<const uint8_t*>(&value), size});
  }
  uint64_t ecam_read(unsigned slot, uint16_t reg, unsigned size, unsigned bus = 0) {
    uint64_t value = 0;
    mmio_.read(kEcamBase + (uint64_t{bus} << 20 | slot << 15 | reg),
               {reinterpret_cast<uint8_t*>(&value), size});
    return value;
  }
  void ecam_write(unsigned slot, uint16_t reg, unsigned size, uint32_t value) {
    mmio_.write(kEcamBase + (slot << 15 | reg), {reinterpret_cast<const uint8_t*>(&value), size});
  }
  // Mechanism #1: latch the address, then access the data port.
  uint32_t cf8_read(unsigned bus, unsigned slot, unsigned function, uint8_t reg, unsigned size) {
    port_write(0xcf8, 4, 0x80000000u | bus << 16 | slot << 11 | function << 8 | (reg & 0xfc));
    return port_read(0xcfc + (reg & 3), size);
  }

  test::StrictMockVm vm_;
  irq::MsiRouteTable routes_{vm_};
  bus::Bus mmio_{"mmio"};
  bus::Bus pio_{"port"};
  std::unique_ptr<RootComplex> root_;
};

TEST_F(RootComplexTest, TheHostBridgeIs00_00_0OnBothMechanisms) {
  const uint32_t id = FERRY_PCI_BRIDGE_DEVICE_ID << 16 | FERRY_PCI_VENDOR_ID;
  EXPECT_EQ(cf8_read(0, 0, 0, 0, 4), id);
  EXPECT_EQ(ecam_read(0, 0, 4), id);
  EXPECT_EQ(cf8_read(0, 0, 0, 0x0a, 2), 0x0600u);  // class: host bridge
  EXPECT_EQ(ecam_read(0, 0x0b, 1), 0x06u);
}

TEST_F(RootComplexTest, EmptyFunctionsAndOtherBusesReadAllOnes) {
  EXPECT_EQ(cf8_read(0, 1, 0, 0, 4), 0xffffffffu);
  EXPECT_EQ(cf8_read(0, 0, 1, 0, 2), 0xffffu);
  EXPECT_EQ(cf8_read(1, 0, 0, 0, 4), 0xffffffffu);
  EXPECT_EQ(ecam_read(31, 0, 4), 0xffffffffu);
  EXPECT_EQ(ecam_read(0, 0, 4, 255), 0xffffffffu);
}

TEST_F(RootComplexTest, TheAddressRegisterTakesOnlyDwordAccesses) {
  port_write(0xcf8, 4, 0x80000004u);
  EXPECT_EQ(port_read(0xcf8, 4), 0x80000004u);
  port_write(0xcf8, 4, 0xffffffff);  // reserved bits 30:24 and 1:0 stay zero
  EXPECT_EQ(port_read(0xcf8, 4), 0x80fffffcu);
  port_write(0xcf8, 4, 0x80000000);
  port_write(0xcf8, 1, 0x12);  // a byte at 0xcf8 is not the address register
  port_write(0xcfa, 2, 0x1234);
  EXPECT_EQ(port_read(0xcf8, 4), 0x80000000u);
  EXPECT_EQ(port_read(0xcf8, 2), 0xffffu);
  EXPECT_EQ(port_read(0xcf9, 1), 0xffu);
}

TEST_F(RootComplexTest, DataPortOffsetsSelectTheBytesOfTheDword) {
  EXPECT_EQ(cf8_read(0, 0, 0, 0, 1), FERRY_PCI_VENDOR_ID & 0xff);
  EXPECT_EQ(cf8_read(0, 0, 0, 1, 1), FERRY_PCI_VENDOR_ID >> 8);
  EXPECT_EQ(cf8_read(0, 0, 0, 2, 2), FERRY_PCI_BRIDGE_DEVICE_ID);
  EXPECT_EQ(cf8_read(0, 0, 0, 3, 1), FERRY_PCI_BRIDGE_DEVICE_ID >> 8);
}

TEST_F(RootComplexTest, WithoutTheEnableBitTheDataPortIsDead) {
  port_write(0xcf8, 4, 0x00000000);
  EXPECT_EQ(port_read(0xcfc, 4), 0xffffffffu);
}

TEST_F(RootComplexTest, AddedDevicesGetBarsInTheWindowsWithDecodingOff) {
  auto device = PciTestDevice::create(root_->bar_spaces(), routes_);
  ASSERT_TRUE(device) << device.error().message();
  auto slot = root_->add(*device, std::nullopt);
  ASSERT_TRUE(slot) << slot.error().message();
  EXPECT_EQ(*slot, 1u);
  EXPECT_EQ(ecam_read(1, 0, 4), FERRY_PCI_TEST_DEVICE_ID << 16 | FERRY_PCI_VENDOR_ID);
  EXPECT_EQ(cf8_read(0, 1, 0, 0, 4), FERRY_PCI_TEST_DEVICE_ID << 16 | FERRY_PCI_VENDOR_ID);
  EXPECT_EQ(ecam_read(1, kCommand, 2), 0u);
  // Every BAR inside its window: the 64-bit one above 4 GiB, the rest below.
  const uint64_t bar0 = ecam_read(1, kBar0, 4) & ~0xfull;
  const uint64_t bar1 = ecam_read(1, kBar0 + 4, 4) & ~0x3ull;
  const uint64_t bar2 = ecam_read(1, kBar0 + 12, 4) << 32 | (ecam_read(1, kBar0 + 8, 4) & ~0xfull);
  const uint64_t rom = ecam_read(1, kRomBar, 4) & kRomAddressMask;
  EXPECT_EQ(bar2, 4 * kGiB);
  EXPECT_EQ(ecam_read(1, kBar0 + 8, 4) & 0xf, 0x4u);  // 64-bit, non-prefetchable
  EXPECT_GE(bar0, 0xc0000000u);
  EXPECT_LT(bar0, 0xe0000000u);
  EXPECT_GE(rom, 0xc0000000u);
  EXPECT_NE(rom, bar0);
  EXPECT_EQ(bar1, 0xc000u);
  EXPECT_EQ((*device)->bar_mapping(0), std::nullopt);
  // The guest turns decoding on through ECAM and the BARs appear.
  ecam_write(1, kCommand, 2, kCommandMemory | kCommandIo);
  EXPECT_EQ((*device)->bar_mapping(0), bar0);
  EXPECT_EQ((*device)->bar_mapping(1), bar1);
  EXPECT_EQ((*device)->bar_mapping(2), bar2);
  EXPECT_EQ(port_read(static_cast<uint16_t>(bar1 + FERRY_PCITEST_ID), 4), FERRY_PCITEST_MAGIC);
}

TEST_F(RootComplexTest, ExtendedConfigSpaceOnlyThroughEcam) {
  auto device = PciTestDevice::create(root_->bar_spaces(), routes_);
  ASSERT_TRUE(device && root_->add(*device, 3));
  EXPECT_EQ(ecam_read(3, 0x100, 4), 0u);  // no extended capabilities
  EXPECT_EQ(ecam_read(3, 0xffc, 4), 0u);
  EXPECT_EQ(ecam_read(3, 0x0, 8), ~uint64_t{0});  // not a configuration access
  EXPECT_EQ(ecam_read(3, 0x2, 4), 0xffffffffu);   // crosses a dword
}

TEST_F(RootComplexTest, SlotsAreCheckedAndNamedInErrors) {
  auto device = PciTestDevice::create(root_->bar_spaces(), routes_);
  ASSERT_TRUE(device && root_->add(*device, 5));
  auto again = PciTestDevice::create(root_->bar_spaces(), routes_);
  auto taken = root_->add(*again, 5);
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().message(),
            "pci-test: PCI slot 5 (00:05.0) is already taken; choose another");
  auto bridge = root_->add(*again, 0);
  ASSERT_FALSE(bridge);
  EXPECT_NE(bridge.error().message().find("00:00.0 is the host bridge"), std::string::npos);
  EXPECT_FALSE(root_->add(*again, 32));
  EXPECT_EQ(*root_->add(*again, std::nullopt), 1u);
}

TEST_F(RootComplexTest, ADeviceThatDoesNotFitSaysWhereAndWhy) {
  bus::Bus mmio("mmio"), pio("port");
  auto small = RootComplex::create(
      mmio, pio,
      {.windows = {.io = {0xc000, 0x20}, .mmio32 = {0xc0000000, 64 * kKiB}, .mmio64 = {}},
       .ecam_base = kEcamBase,
       .ecam_size = 1 * kMiB,
       .excluded = {},
       .mmio64_end = {}});
  ASSERT_TRUE(small);
  auto first = PciTestDevice::create((*small)->bar_spaces(), routes_);
  ASSERT_TRUE((*small)->add(*first, 4));  // the 64-bit BAR falls back below 4 GiB
  auto second = PciTestDevice::create((*small)->bar_spaces(), routes_);
  auto no_room = (*small)->add(*second, 7);
  ASSERT_FALSE(no_room);
  EXPECT_EQ(no_room.error().message(),
            "pci-test at 00:07.0: BAR 1: no room for an I/O BAR of 32 B in the I/O port window "
            "0xc000-0xc01f; use fewer devices with I/O BARs");
}

// An IOMMU's reserved regions (of the assigned devices' groups) get no BAR, in either window.
TEST_F(RootComplexTest, ExcludedRangesGetNoBar) {
  bus::Bus mmio("mmio"), pio("port");
  auto root = RootComplex::create(mmio, pio,
                                  {.windows = {.io = {0xc000, 0x4000},
                                               .mmio32 = {0xc0000000, 512 * kMiB},
                                               .mmio64 = {4 * kGiB, 60 * kGiB}},
                                   .ecam_base = kEcamBase,
                                   .ecam_size = kMiB,
                                   .excluded = {{0xbfff0000, 0x20000}, {4 * kGiB, 2 * kGiB}},
                                   .mmio64_end = {}});
  ASSERT_TRUE(root) << root.error().message();
  auto device = PciTestDevice::create((*root)->bar_spaces(), routes_);
  ASSERT_TRUE((*root)->add(*device, 1));
  const uint64_t bar0 = (*device)->config_read(kBar0, 4) & ~0xfull;
  const uint64_t bar2 = uint64_t{(*device)->config_read(kBar0 + 12, 4)} << 32 |
                        ((*device)->config_read(kBar0 + 8, 4) & ~0xfull);
  const uint64_t rom = (*device)->config_read(kRomBar, 4) & kRomAddressMask;
  EXPECT_GE(bar0, 0xc0010000u) << "BAR 0 in the excluded start of the 32-bit window";
  EXPECT_GE(rom, 0xc0010000u) << "the ROM in the excluded start of the 32-bit window";
  EXPECT_EQ(bar2, 6 * kGiB) << "the 64-bit BAR goes past the excluded 4-6 GiB";
}

TEST_F(RootComplexTest, TheConfigPortsAndEcamAreClaimed) {
  bus::Bus mmio("mmio"), pio("port");
  ASSERT_TRUE(pio.insert(0xcfc, 1, std::make_shared<ConfigPorts>(nullptr)));
  auto clash = RootComplex::create(
      mmio, pio,
      {.windows = {}, .ecam_base = kEcamBase, .ecam_size = kMiB, .excluded = {}, .mmio64_end = {}});
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code(), Errc::kExists);
  auto odd = RootComplex::create(
      mmio_, pio_,
      {.windows = {}, .ecam_base = kEcamBase, .ecam_size = 1000, .excluded = {}, .mmio64_end = {}});
  ASSERT_FALSE(odd);
  EXPECT_NE(odd.error().message().find("1 MiB per bus"), std::string::npos);
}

// A function whose model wired its INTx (Interrupt Pin) to `line`, as AssignedDevice does.
class WiredFunction final : public Endpoint {
 public:
  WiredFunction(BarSpaces spaces, uint8_t pin, uint8_t line)
      : Endpoint("wired", {.vendor_id = 1}, spaces) {
    config().set(kInterruptPin, 1, pin);
    config().set(kInterruptLine, 1, line);
  }

 protected:
  void bar_read(unsigned, uint64_t, std::span<uint8_t>) noexcept override {}
  void bar_write(unsigned, uint64_t, std::span<const uint8_t>) noexcept override {}
};

// _PRT's source: each function's Interrupt Pin and Line as the device model set them.
TEST_F(RootComplexTest, IntxRoutesAreTheWiredPinsAndTheirLines) {
  auto add_at = [&](unsigned slot, uint8_t pin, uint8_t line) {
    ASSERT_TRUE(root_->add(std::make_shared<WiredFunction>(root_->bar_spaces(), pin, line), slot));
  };
  auto plain = PciTestDevice::create(root_->bar_spaces(), routes_);  // no INTx, as ferry's own
  ASSERT_TRUE(plain) << plain.error().message();
  ASSERT_TRUE(root_->add(*plain, 1));
  add_at(2, 1, 16);    // INTA# on GSI 16
  add_at(4, 1, 0xff);  // a pin wired nowhere
  add_at(5, 2, 17);    // INTB#
  add_at(7, 4, 23);    // INTD#
  EXPECT_EQ(root_->intx_routes(), (std::vector<IntxRoute>{{.slot = 2, .pin = 1, .gsi = 16},
                                                          {.slot = 5, .pin = 2, .gsi = 17},
                                                          {.slot = 7, .pin = 4, .gsi = 23}}));
}

TEST_F(RootComplexTest, NoWiredPinsNoRoutes) { EXPECT_TRUE(root_->intx_routes().empty()); }

TEST(RootBus, FunctionZeroAnnouncesOtherFunctions) {
  RootBus bus;
  bus::Bus mmio("mmio"), pio("port");
  class Plain final : public Endpoint {
   public:
    explicit Plain(BarSpaces s) : Endpoint("plain", {.vendor_id = 1}, s) {}

   protected:
    void bar_read(unsigned, uint64_t, std::span<uint8_t>) noexcept override {}
    void bar_write(unsigned, uint64_t, std::span<const uint8_t>) noexcept override {}
  };
  const BarSpaces spaces{mmio, pio, {}};
  ASSERT_TRUE(bus.add(2, 0, std::make_shared<Plain>(spaces)));
  EXPECT_EQ(bus.read(0, 2, 0, kHeaderType, 1), 0x00u);
  ASSERT_TRUE(bus.add(2, 3, std::make_shared<Plain>(spaces)));
  EXPECT_EQ(bus.read(0, 2, 0, kHeaderType, 1), 0x80u);
  EXPECT_EQ(bus.read(0, 2, 0, 0x0c, 4), 0x00800000u);
  EXPECT_EQ(bus.read(0, 2, 3, kHeaderType, 1), 0x00u);
  EXPECT_FALSE(bus.add(2, 3, std::make_shared<Plain>(spaces)));
  EXPECT_FALSE(bus.add(2, 8, std::make_shared<Plain>(spaces)));
  EXPECT_FALSE(bus.add(32, 0, std::make_shared<Plain>(spaces)));
  EXPECT_EQ(bus.free_slot(1), 1u);
  EXPECT_EQ(bus.free_slot(2), 3u);
}

}  // namespace
}  // namespace ferry::pci

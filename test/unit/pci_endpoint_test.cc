#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "ferry/base/units.h"
#include "ferry/pci/endpoint.h"

namespace ferry::pci {
namespace {

constexpr BridgeWindows kWindows{
    .io = {0xc000, 0x4000},
    .mmio32 = {0xc0000000, 512 * kMiB},
    .mmio64 = {4 * kGiB, 60 * kGiB},
};

// A function whose BARs read back which BAR and offset were hit.
class FakeFunction final : public Endpoint {
 public:
  explicit FakeFunction(BarSpaces spaces)
      : Endpoint("fake",
                 {.vendor_id = 0x1234,
                  .device_id = 0xabcd,
                  .class_code = 0x123456,
                  .revision = 7,
                  .subsystem_vendor_id = 0x1111,
                  .subsystem_id = 0x2222},
                 spaces) {}
  using Endpoint::bar;
  Expected<void> bar(unsigned index, BarSpec spec) { return add_bar(index, spec); }
  Expected<void> rom(std::vector<uint8_t> image) { return set_rom(std::move(image)); }
  /// Sets status bits as a device model does when it signals an error (through config()).
  void raise_status(uint16_t bits) { config().set(kStatus, 2, config().get(kStatus, 2) | bits); }
  uint64_t last_write = 0;

 protected:
  void bar_read(unsigned index, uint64_t offset, std::span<uint8_t> data) noexcept override {
    const uint64_t value = 0xb0000000 | index << 24 | offset;
    std::memcpy(data.data(), &value, std::min(data.size(), sizeof value));
  }
  void bar_write(unsigned index, uint64_t offset, std::span<const uint8_t> data) noexcept override {
    last_write = index << 24 | offset;
    (void)data;
  }
};

class EndpointTest : public ::testing::Test {
 protected:
  bus::Bus mmio_{"mmio"};
  bus::Bus pio_{"port"};
  std::shared_ptr<FakeFunction> f_ =
      std::make_shared<FakeFunction>(BarSpaces{mmio_, pio_, kWindows});

  uint32_t mmio32(uint64_t address) {
    uint32_t value = 0;
    mmio_.read(address, {reinterpret_cast<uint8_t*>(&value), 4});
    return value;
  }
  uint32_t port32(uint64_t port) {
    uint32_t value = 0;
    pio_.read(port, {reinterpret_cast<uint8_t*>(&value), 4});
    return value;
  }
  uint32_t sized(uint16_t reg) {  // the sizing protocol: write all ones, read back, restore
    const uint32_t saved = f_->config_read(reg, 4);
    f_->config_write(reg, 4, 0xffffffff);
    const uint32_t probe = f_->config_read(reg, 4);
    f_->config_write(reg, 4, saved);
    return probe;
  }
};

TEST_F(EndpointTest, HeaderIdentifiesTheFunctionAndIsReadOnly) {
  EXPECT_EQ(f_->config_read(kVendorId, 4), 0xabcd1234u);
  EXPECT_EQ(f_->config_read(kRevision, 4), 0x12345607u);
  EXPECT_EQ(f_->config_read(kSubsystemVendorId, 4), 0x22221111u);
  EXPECT_EQ(f_->config_read(kHeaderType, 1), 0u);
  f_->config_write(kVendorId, 4, 0);
  f_->config_write(kRevision, 4, 0);
  f_->config_write(kHeaderType, 1, 0x7f);
  EXPECT_EQ(f_->config_read(kVendorId, 4), 0xabcd1234u);
  EXPECT_EQ(f_->config_read(kRevision, 4), 0x12345607u);
  EXPECT_EQ(f_->config_read(kHeaderType, 1), 0u);
  f_->config_write(kCacheLineSize, 1, 0x10);
  f_->config_write(kInterruptLine, 1, 0x0b);
  EXPECT_EQ(f_->config_read(kCacheLineSize, 1), 0x10u);
  EXPECT_EQ(f_->config_read(kInterruptLine, 2), 0x000bu);  // no INTx pin
}

TEST_F(EndpointTest, CommandDecodeBitsExistOnlyForDecodersTheFunctionHas) {
  f_->config_write(kCommand, 2, 0xffff);
  EXPECT_EQ(f_->config_read(kCommand, 2), 0x0544u);  // bus master, parity, SERR, INTx disable
  ASSERT_TRUE(f_->bar(0, {BarKind::kMemory32, 0x1000}));
  f_->config_write(kCommand, 2, 0xffff);
  EXPECT_EQ(f_->config_read(kCommand, 2), 0x0546u);
  ASSERT_TRUE(f_->bar(1, {BarKind::kIo, 0x20}));
  f_->config_write(kCommand, 2, 0xffff);
  EXPECT_EQ(f_->config_read(kCommand, 2), 0x0547u);
  EXPECT_TRUE(f_->bus_master_enabled());
  f_->config_write(kCommand, 2, 0);
  EXPECT_FALSE(f_->bus_master_enabled());
}

TEST_F(EndpointTest, StatusErrorBitsAreWriteOneToClear) {
  constexpr uint16_t kReceivedMasterAbort = 1u << 13;
  constexpr uint16_t kDetectedParityError = 1u << 15;
  static_assert((kStatusErrorBits & (kReceivedMasterAbort | kDetectedParityError)) ==
                (kReceivedMasterAbort | kDetectedParityError));
  f_->raise_status(kStatusErrorBits | kStatusCapabilityList);
  ASSERT_EQ(f_->config_read(kStatus, 2), uint32_t{kStatusErrorBits | kStatusCapabilityList});

  f_->config_write(kStatus, 2, 0);  // a 0 clears nothing
  EXPECT_EQ(f_->config_read(kStatus, 2), uint32_t{kStatusErrorBits | kStatusCapabilityList});

  f_->config_write(kStatus, 2, kReceivedMasterAbort);  // a 1 clears that bit alone
  EXPECT_EQ(f_->config_read(kStatus, 2),
            uint32_t{(kStatusErrorBits & ~kReceivedMasterAbort) | kStatusCapabilityList});

  f_->config_write(kStatus, 1, 0xff);  // the low byte holds no error bit: nothing changes
  f_->config_write(kStatus + 1, 1, kDetectedParityError >> 8);  // a byte write clears too
  EXPECT_EQ(f_->config_read(kStatus, 2),
            uint32_t{(kStatusErrorBits & ~kReceivedMasterAbort & ~kDetectedParityError) |
                     kStatusCapabilityList});

  // All ones clears every error bit; the read-only capability-list bit stays.
  f_->config_write(kStatus, 2, 0xffff);
  EXPECT_EQ(f_->config_read(kStatus, 2), uint32_t{kStatusCapabilityList});
}

TEST_F(EndpointTest, AllOnesProbesReturnEachBarsSizeAndType) {
  ASSERT_TRUE(f_->bar(0, {BarKind::kMemory32, 0x1000}));
  ASSERT_TRUE(f_->bar(1, {BarKind::kIo, 0x20}));
  ASSERT_TRUE(f_->bar(2, {BarKind::kMemory64, 0x4000}));
  ASSERT_TRUE(f_->bar(4, {BarKind::kMemory64, 8 * kGiB, true}));
  ASSERT_TRUE(f_->rom(std::vector<uint8_t>(100, 0x55)));
  EXPECT_EQ(sized(kBar0), 0xfffff000u);
  EXPECT_EQ(sized(kBar0 + 4), 0x0000ffe1u);  // 16-bit ports: the upper half is zero
  EXPECT_EQ(sized(kBar0 + 8), 0xffffc004u);
  EXPECT_EQ(sized(kBar0 + 12), 0xffffffffu);
  EXPECT_EQ(sized(kBar0 + 16), 0x0000000cu);  // 8 GiB: no address bits in the low dword
  EXPECT_EQ(sized(kBar0 + 20), 0xfffffffeu);
  EXPECT_EQ(sized(kRomBar), 0xfffff801u);  // rounded up to the 2 KiB minimum
  EXPECT_EQ(f_->bar(kRomIndex)->size, 2048u);
  // The probes were restored: every register is back to its type bits.
  EXPECT_EQ(f_->config_read(kBar0, 4), 0u);
  EXPECT_EQ(f_->config_read(kBar0 + 4, 4), 1u);
  EXPECT_EQ(f_->config_read(kBar0 + 8, 4), 4u);
}

TEST_F(EndpointTest, UnusedBarsAndTheUpperHalfAreNotBars) {
  ASSERT_TRUE(f_->bar(2, {BarKind::kMemory64, 0x4000}));
  EXPECT_EQ(sized(kBar0 + 20), 0u);
  EXPECT_FALSE(f_->bar(3).has_value());
  EXPECT_FALSE(f_->bar(5).has_value());
  EXPECT_FALSE(f_->bar(9).has_value());
  EXPECT_FALSE(f_->bar(3, {BarKind::kMemory32, 0x1000}));  // the upper half is taken
  EXPECT_FALSE(f_->bar(2, {BarKind::kIo, 0x10}));
  EXPECT_FALSE(f_->bar(5, {BarKind::kMemory64, 0x1000}));  // needs two registers
  EXPECT_FALSE(f_->bar(6, {BarKind::kMemory32, 0x1000}));
  EXPECT_FALSE(f_->bar(0, {BarKind::kMemory32, 0x1800}));
  EXPECT_FALSE(f_->rom(std::vector<uint8_t>(32 * kMiB)));
}

TEST_F(EndpointTest, MemoryDecodePutsTheBarOnTheBusAndTakesItOff) {
  ASSERT_TRUE(f_->bar(0, {BarKind::kMemory32, 0x1000}));
  f_->config_write(kBar0, 4, 0xc0001000);
  EXPECT_EQ(f_->bar_mapping(0), std::nullopt);
  EXPECT_EQ(mmio32(0xc0001010), 0xffffffffu);
  f_->config_write(kCommand, 2, kCommandMemory);
  EXPECT_EQ(f_->bar_mapping(0), 0xc0001000u);
  EXPECT_EQ(mmio32(0xc0001010), 0xb0000010u);
  uint32_t value = 1;
  mmio_.write(0xc0001ffc, {reinterpret_cast<uint8_t*>(&value), 4});
  EXPECT_EQ(f_->last_write, 0xffcu);
  f_->config_write(kCommand, 2, 0);
  EXPECT_EQ(f_->bar_mapping(0), std::nullopt);
  EXPECT_EQ(mmio32(0xc0001010), 0xffffffffu);
}

TEST_F(EndpointTest, ABarMovesWhileDecoding) {
  ASSERT_TRUE(f_->bar(0, {BarKind::kMemory32, 0x1000}));
  f_->config_write(kBar0, 4, 0xc0001000);
  f_->config_write(kCommand, 2, kCommandMemory);
  f_->config_write(kBar0 + 2, 2, 0xc010);  // a 16-bit write to the upper half of the register
  EXPECT_EQ(f_->bar_mapping(0), 0xc0101000u);
  EXPECT_EQ(mmio32(0xc0001000), 0xffffffffu);
  EXPECT_EQ(mmio32(0xc0101000), 0xb0000000u);
  // Sizing while decoding points the BAR at 0xfffff000, outside the windows: it goes dark.
  f_->config_write(kBar0, 4, 0xffffffff);
  EXPECT_EQ(f_->bar_mapping(0), std::nullopt);
  EXPECT_EQ(mmio32(0xfffff000), 0xffffffffu);
}

TEST_F(EndpointTest, SixtyFourBitBarsDecodeAbove4GiBFromBothHalves) {
  ASSERT_TRUE(f_->bar(2, {BarKind::kMemory64, 0x4000}));
  f_->config_write(kBar0 + 8, 4, 0x00004000);
  f_->config_write(kBar0 + 12, 4, 0x1);
  f_->config_write(kCommand, 2, kCommandMemory);
  EXPECT_EQ(f_->bar_mapping(2), 0x100004000u);
  EXPECT_EQ(mmio32(0x100004008), 0xb2000008u);
  f_->config_write(kBar0 + 12, 4, 0x2);
  EXPECT_EQ(f_->bar_mapping(2), 0x200004000u);
  // A 64-bit BAR may also sit below 4 GiB, in the 32-bit window.
  f_->config_write(kBar0 + 12, 4, 0);
  f_->config_write(kBar0 + 8, 4, 0xc0004000);
  EXPECT_EQ(f_->bar_mapping(2), 0xc0004000u);
}

TEST_F(EndpointTest, BarsOutsideTheBridgeWindowsDecodeNothing) {
  ASSERT_TRUE(f_->bar(0, {BarKind::kMemory32, 0x1000}));
  ASSERT_TRUE(f_->bar(1, {BarKind::kIo, 0x20}));
  ASSERT_TRUE(f_->bar(2, {BarKind::kMemory64, 0x4000}));
  f_->config_write(kCommand, 2, kCommandMemory | kCommandIo);
  const std::array<uint32_t, 6> hostile = {0xfee00000, 0x3f8, 0xfec00000, 0, 0x0, 0};
  for (unsigned i = 0; i < 3; ++i) f_->config_write(kBar0 + 4 * i, 4, hostile[i]);
  EXPECT_EQ(f_->bar_mapping(0), std::nullopt);  // the LAPIC page
  EXPECT_EQ(f_->bar_mapping(1), std::nullopt);  // COM1
  EXPECT_EQ(f_->bar_mapping(2), std::nullopt);  // the IOAPIC
  f_->config_write(kBar0, 4, 0xdffff000);       // the last page of the 32-bit window
  EXPECT_EQ(f_->bar_mapping(0), 0xdffff000u);
  f_->config_write(kBar0 + 4, 4, 0xffe0);
  EXPECT_EQ(f_->bar_mapping(1), 0xffe0u);
  EXPECT_EQ(port32(0xffe4), 0xb1000004u);
  // Past the end of the 64-bit window (64 GiB).
  f_->config_write(kBar0 + 8, 4, 0xffffc000);
  f_->config_write(kBar0 + 12, 4, 0xf);
  EXPECT_EQ(f_->bar_mapping(2), 0xfffffc000u);
  f_->config_write(kBar0 + 12, 4, 0x10);
  EXPECT_EQ(f_->bar_mapping(2), std::nullopt);
  f_->config_write(kBar0 + 12, 4, 0xffffffff);  // the top of the address space
  EXPECT_EQ(f_->bar_mapping(2), std::nullopt);
}

TEST_F(EndpointTest, IoDecodeIsSeparateFromMemoryDecode) {
  ASSERT_TRUE(f_->bar(0, {BarKind::kMemory32, 0x1000}));
  ASSERT_TRUE(f_->bar(1, {BarKind::kIo, 0x20}));
  f_->config_write(kBar0, 4, 0xc0000000);
  f_->config_write(kBar0 + 4, 4, 0xc020);
  f_->config_write(kCommand, 2, kCommandIo);
  EXPECT_EQ(f_->bar_mapping(0), std::nullopt);
  EXPECT_EQ(f_->bar_mapping(1), 0xc020u);
  EXPECT_EQ(port32(0xc03c), 0xb100001cu);
  f_->config_write(kCommand, 2, kCommandMemory);
  EXPECT_EQ(f_->bar_mapping(0), 0xc0000000u);
  EXPECT_EQ(f_->bar_mapping(1), std::nullopt);
  EXPECT_EQ(port32(0xc03c), 0xffffffffu);
}

TEST_F(EndpointTest, OverlappingBarsLeaveTheLaterOneDark) {
  auto other = std::make_shared<FakeFunction>(BarSpaces{mmio_, pio_, kWindows});
  ASSERT_TRUE(f_->bar(0, {BarKind::kMemory32, 0x1000}));
  ASSERT_TRUE(other->bar(0, {BarKind::kMemory32, 0x2000}));
  f_->config_write(kBar0, 4, 0xc0001000);
  f_->config_write(kCommand, 2, kCommandMemory);
  other->config_write(kBar0, 4, 0xc0000000);
  other->config_write(kCommand, 2, kCommandMemory);
  EXPECT_EQ(other->bar_mapping(0), std::nullopt);
  EXPECT_EQ(mmio32(0xc0001000), 0xb0000000u);  // the first one still answers
  other->config_write(kBar0, 4, 0xc0002000);
  EXPECT_EQ(other->bar_mapping(0), 0xc0002000u);
}

// Found by the hostile PCI guest (guests/hostile_pci.c): BAR 0 put inside the function's own
// 64-bit BAR stays dark; when the 64-bit BAR then moves away in one write, BAR 0 must decode
// where it was programmed (it stayed dark until its own register was written again).
TEST_F(EndpointTest, ABarLeftDarkDecodesOnceItsOwnFunctionFreesTheRange) {
  ASSERT_TRUE(f_->bar(0, {BarKind::kMemory32, 0x1000}));
  ASSERT_TRUE(f_->bar(2, {BarKind::kMemory64, 0x4000}));
  f_->config_write(kBar0 + 8, 4, 0xc0200000);
  f_->config_write(kCommand, 2, kCommandMemory);
  f_->config_write(kBar0, 4, 0xc0200000);
  EXPECT_EQ(f_->bar_mapping(0), std::nullopt);
  EXPECT_EQ(mmio32(0xc0200000), 0xb2000000u);
  f_->config_write(kBar0 + 8, 4, 0xc0100000);
  EXPECT_EQ(f_->bar_mapping(2), 0xc0100000u);
  EXPECT_EQ(f_->bar_mapping(0), 0xc0200000u);
  EXPECT_EQ(mmio32(0xc0200000), 0xb0000000u);
}

TEST_F(EndpointTest, TheRomDecodesWithItsEnableBitAndMemoryDecode) {
  std::vector<uint8_t> image = {0x55, 0xaa, 'h', 'i'};
  ASSERT_TRUE(f_->rom(image));
  f_->config_write(kRomBar, 4, 0xc0010000);
  f_->config_write(kCommand, 2, kCommandMemory);
  EXPECT_EQ(f_->bar_mapping(kRomIndex), std::nullopt);
  f_->config_write(kRomBar, 4, 0xc0010000 | kRomEnable);
  EXPECT_EQ(f_->config_read(kRomBar, 4), 0xc0010001u);
  EXPECT_EQ(f_->bar_mapping(kRomIndex), 0xc0010000u);
  EXPECT_EQ(mmio32(0xc0010000), 0x6968aa55u);
  EXPECT_EQ(mmio32(0xc00107fc), 0u);  // padding
  uint32_t junk = 0x12345678;
  mmio_.write(0xc0010000, {reinterpret_cast<uint8_t*>(&junk), 4});
  EXPECT_EQ(mmio32(0xc0010000), 0x6968aa55u);  // read-only
  EXPECT_EQ(f_->last_write, 0u);
  f_->config_write(kCommand, 2, 0);
  EXPECT_EQ(f_->bar_mapping(kRomIndex), std::nullopt);
}

TEST_F(EndpointTest, BadConfigAccessesChangeNothing) {
  ASSERT_TRUE(f_->bar(0, {BarKind::kMemory32, 0x1000}));
  f_->config_write(kBar0 + 2, 4, 0xffffffff);  // crosses a dword
  f_->config_write(kBar0, 8, 0xffffffff);
  f_->config_write(0x1000, 4, 0xffffffff);
  EXPECT_EQ(f_->config_read(kBar0, 4), 0u);
  EXPECT_EQ(f_->config_read(kBar0 + 2, 4), 0xffffffffu);
  EXPECT_EQ(f_->config_read(0xfff, 1), 0u);  // extended space exists and is empty
}

}  // namespace
}  // namespace ferry::pci

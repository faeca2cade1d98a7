#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>

#include "ferry/bus/bus.h"

namespace ferry::bus {
namespace {

using ::testing::ElementsAre;
using ::testing::StrictMock;

class MockDevice : public BusDevice {
 public:
  MOCK_METHOD(void, read, (uint64_t, std::span<uint8_t>), (noexcept, override));
  MOCK_METHOD(void, write, (uint64_t, std::span<const uint8_t>), (noexcept, override));
};

MATCHER_P(SpanSize, n, "") { return arg.size() == static_cast<size_t>(n); }

TEST(Bus, DispatchesWithTheOffsetIntoTheRange) {
  Bus bus("test");
  auto a = std::make_shared<StrictMock<MockDevice>>();
  auto b = std::make_shared<StrictMock<MockDevice>>();
  ASSERT_TRUE(bus.insert(0x1000, 0x100, a));
  ASSERT_TRUE(bus.insert(0x2000, 0x10, b));
  EXPECT_CALL(*a, write(0x20, SpanSize(4)));
  EXPECT_CALL(*b, read(0xf, SpanSize(1)));
  std::array<uint8_t, 4> data{};
  EXPECT_TRUE(bus.write(0x1020, data));
  EXPECT_TRUE(bus.read(0x200f, std::span(data).first(1)));
}

TEST(Bus, UnclaimedReadsAreAllOnesAndWritesAreDropped) {
  Bus bus("test");
  auto a = std::make_shared<StrictMock<MockDevice>>();
  ASSERT_TRUE(bus.insert(0x1000, 0x10, a));
  std::array<uint8_t, 4> data{1, 2, 3, 4};
  EXPECT_FALSE(bus.read(0xfff, data));
  EXPECT_THAT(data, ElementsAre(0xff, 0xff, 0xff, 0xff));
  EXPECT_FALSE(bus.write(0x1010, data));
  // An access that starts inside a range but runs past its end is not the device's.
  data = {1, 2, 3, 4};
  EXPECT_FALSE(bus.read(0x100e, data));
  EXPECT_THAT(data, ElementsAre(0xff, 0xff, 0xff, 0xff));
}

TEST(Bus, UnclaimedReadsOfEverySizeFillExactlyTheirBytes) {
  Bus bus("test");
  for (size_t size = 1; size <= 17; ++size) {
    std::array<uint8_t, 19> buffer{};
    EXPECT_FALSE(bus.read(0x1000, std::span(buffer).subspan(1, size)));
    for (size_t i = 0; i < buffer.size(); ++i) {
      EXPECT_EQ(buffer[i], i >= 1 && i <= size ? 0xff : 0) << "size " << size << " byte " << i;
    }
  }
}

TEST(Bus, RefusesOverlapsEmptyRangesAndWrapAround) {
  Bus bus("mmio");
  auto a = std::make_shared<StrictMock<MockDevice>>();
  ASSERT_TRUE(bus.insert(0x1000, 0x100, a));
  auto overlap = bus.insert(0x10ff, 1, a);
  ASSERT_FALSE(overlap);
  EXPECT_EQ(overlap.error().message(),
            "mmio bus: range 0x10ff-0x10ff overlaps the claimed 0x1000-0x10ff");
  EXPECT_FALSE(bus.insert(0xfff, 2, a));
  EXPECT_FALSE(bus.insert(0x5000, 0, a));
  EXPECT_FALSE(bus.insert(UINT64_MAX, 2, a));
  EXPECT_TRUE(bus.insert(UINT64_MAX, 1, a));  // the very last byte is fine
}

TEST(Bus, RemoveNeedsTheExactBase) {
  Bus bus("test");
  auto a = std::make_shared<StrictMock<MockDevice>>();
  ASSERT_TRUE(bus.insert(0x1000, 0x100, a));
  EXPECT_FALSE(bus.remove(0x1001));
  ASSERT_TRUE(bus.remove(0x1000));
  std::array<uint8_t, 1> data{};
  EXPECT_FALSE(bus.read(0x1000, data));
  EXPECT_TRUE(bus.insert(0x1000, 0x10, a));
}

// A device that moves itself while it is being called, as a PCI BAR does on a config write.
class SelfMovingDevice : public BusDevice {
 public:
  explicit SelfMovingDevice(Bus& bus) : bus_(bus) {}
  void read(uint64_t, std::span<uint8_t> data) noexcept override { data[0] = 0x5a; }
  void write(uint64_t, std::span<const uint8_t>) noexcept override {
    ASSERT_TRUE(bus_.remove(0x1000));
    ASSERT_TRUE(bus_.insert(0x3000, 0x10, self_.lock()));
  }
  std::weak_ptr<BusDevice> self_;

 private:
  Bus& bus_;
};

TEST(Bus, ADeviceMayChangeTheBusFromItsOwnHandler) {
  Bus bus("test");
  auto device = std::make_shared<SelfMovingDevice>(bus);
  device->self_ = device;
  ASSERT_TRUE(bus.insert(0x1000, 0x10, device));
  std::array<uint8_t, 1> data{};
  EXPECT_TRUE(bus.write(0x1000, data));
  EXPECT_FALSE(bus.read(0x1000, data));
  EXPECT_TRUE(bus.read(0x3000, data));
  EXPECT_EQ(data[0], 0x5a);
}

TEST(BusReader, SeesEveryChangeOfTheBusAtItsNextAccess) {
  Bus bus("test");
  Bus::Reader reader(bus);
  auto a = std::make_shared<StrictMock<MockDevice>>();
  std::array<uint8_t, 2> data{};
  EXPECT_FALSE(reader.read(0x1000, data));  // the empty bus
  ASSERT_TRUE(bus.insert(0x1000, 0x10, a));
  EXPECT_CALL(*a, read(0, SpanSize(2)));
  EXPECT_TRUE(reader.read(0x1000, data));
  ASSERT_TRUE(bus.remove(0x1000));
  EXPECT_FALSE(reader.write(0x1000, data));
  ASSERT_TRUE(bus.insert(0x2000, 0x10, a));
  EXPECT_CALL(*a, write(0xe, SpanSize(2)));
  EXPECT_TRUE(reader.write(0x200e, data));
}

TEST(BusReader, ReleasesARemovedDeviceAtItsNextAccess) {
  Bus bus("test");
  Bus::Reader reader(bus);
  auto device = std::make_shared<StrictMock<MockDevice>>();
  std::weak_ptr<MockDevice> watch = device;
  ASSERT_TRUE(bus.insert(0x1000, 0x10, device));
  device.reset();
  std::array<uint8_t, 1> data{};
  EXPECT_CALL(*watch.lock(), read(0, SpanSize(1)));
  EXPECT_TRUE(reader.read(0x1000, data));
  ASSERT_TRUE(bus.remove(0x1000));
  EXPECT_FALSE(watch.expired()) << "the reader's snapshot still holds it";
  EXPECT_FALSE(reader.read(0x1000, data));
  EXPECT_TRUE(watch.expired());
}

TEST(BusReader, ADeviceMayChangeTheBusFromItsOwnHandler) {
  Bus bus("test");
  Bus::Reader reader(bus);
  auto device = std::make_shared<SelfMovingDevice>(bus);
  device->self_ = device;
  ASSERT_TRUE(bus.insert(0x1000, 0x10, device));
  std::array<uint8_t, 1> data{};
  EXPECT_TRUE(reader.write(0x1000, data));
  EXPECT_FALSE(reader.read(0x1000, data));
  EXPECT_TRUE(reader.read(0x3000, data));
  EXPECT_EQ(data[0], 0x5a);
}

}  // namespace
}  // namespace ferry::bus

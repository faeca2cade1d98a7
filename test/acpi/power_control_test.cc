// The ACPI power registers: only SLP_EN with SLP_TYP = S5 powers off, only the reset value
// resets, and nothing else a guest writes does anything.
#include <gtest/gtest.h>

#include "ferry/bus/bus.h"
#include "ferry/vmm/power_control.h"

namespace ferry::vmm {
namespace {

struct PowerFixture : ::testing::Test {
  void SetUp() override {
    ASSERT_TRUE(
        pio.insert(kPowerControlPort, kPowerControlPorts,
                   std::make_shared<PowerControl>(PowerControl::Events{
                       .power_off = [this] { ++power_offs; }, .reset = [this] { ++resets; }})));
  }
  void out8(uint16_t port, uint8_t value) { pio.write(port, std::span(&value, 1)); }
  uint8_t in8(uint16_t port) {
    uint8_t value = 0;
    pio.read(port, std::span(&value, 1));
    return value;
  }

  bus::Bus pio{"port"};
  int power_offs = 0;
  int resets = 0;
};

TEST_F(PowerFixture, SleepEnableWithS5PowersOff) {
  out8(kSleepControlPort, (kS5SleepType << 2) | kSleepEnable);  // what Linux writes: 0x34
  EXPECT_EQ(power_offs, 1);
  EXPECT_EQ(resets, 0);
}

TEST_F(PowerFixture, OtherSleepWritesAreIgnored) {
  out8(kSleepControlPort, kS5SleepType << 2);  // SLP_EN clear
  for (unsigned type = 0; type < 8; ++type) {
    if (type != kS5SleepType)
      out8(kSleepControlPort, static_cast<uint8_t>(type << 2 | kSleepEnable));
  }
  out8(kSleepStatusPort, 0x80);  // clearing WAK_STS, as Linux does before sleeping
  out8(kSleepStatusPort, 0x34);
  const uint16_t wide = (kS5SleepType << 2) | kSleepEnable;
  pio.write(kSleepControlPort, std::span(reinterpret_cast<const uint8_t*>(&wide), 2));
  EXPECT_EQ(power_offs, 0);
  EXPECT_EQ(resets, 0);
}

TEST_F(PowerFixture, TheResetValueResetsAndNothingElse) {
  for (unsigned v = 0; v < 256; ++v) {
    if (v != kResetValue) out8(kResetPort, static_cast<uint8_t>(v));
  }
  EXPECT_EQ(resets, 0);
  out8(kResetPort, kResetValue);
  EXPECT_EQ(resets, 1);
  EXPECT_EQ(power_offs, 0);
}

TEST_F(PowerFixture, SleepStatusReadsZero) {
  EXPECT_EQ(in8(kSleepStatusPort), 0);
  EXPECT_EQ(in8(kSleepControlPort), 0xff);
}

}  // namespace
}  // namespace ferry::vmm

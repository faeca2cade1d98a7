#include <gtest/gtest.h>

#include "ferry/pci/capabilities.h"
#include "ferry/pci/config_regs.h"
#include "ferry/pci/config_space.h"

namespace ferry::pci {
namespace {

TEST(ConfigSpace, GuestWritesChangeOnlyWritableBitsAndClearOnlyWriteOneToClearBits) {
  ConfigSpace config;
  config.set(0x40, 4, 0x12345678);
  config.set_writable(0x40, 4, 0x0000ff00);
  config.write(0x40, 4, 0xaaaaaaaa);
  EXPECT_EQ(config.read(0x40, 4), 0x1234aa78u);

  config.set(0x44, 2, 0xf00f);
  config.set_write_one_to_clear(0x44, 2, 0xf000);
  config.write(0x44, 2, 0x3003);  // clears bits 12-13; bits 0-1 are read-only
  EXPECT_EQ(config.read(0x44, 2), 0xc00fu);
  config.write(0x44, 2, 0);  // writing zeros clears nothing
  EXPECT_EQ(config.read(0x44, 2), 0xc00fu);
}

TEST(ConfigSpace, ReadsAndWritesOfEverySizeInsideADword) {
  ConfigSpace config;
  config.set_writable(0x50, 4, 0xffffffff);
  config.write(0x50, 4, 0x44332211);
  EXPECT_EQ(config.read(0x51, 1), 0x22u);
  EXPECT_EQ(config.read(0x52, 2), 0x4433u);
  EXPECT_EQ(config.read(0x51, 2), 0x3322u);  // contiguous byte enables inside the dword
  config.write(0x53, 1, 0x99);
  EXPECT_EQ(config.read(0x50, 4), 0x99332211u);
}

TEST(ConfigSpace, AccessesOutsideADwordOrTheSpaceReadOnesAndAreDropped) {
  ConfigSpace config;
  config.set_writable(0x0, ConfigSpace::kSize - 1, 0xffffffff);  // a size over 4 does nothing
  config.set_writable(0x60, 4, 0xffffffff);
  config.set_writable(0x64, 4, 0xffffffff);
  config.set_writable(0xffc, 4, 0xffffffff);
  EXPECT_FALSE(ConfigSpace::access_ok(0x62, 4));  // crosses into the next dword
  EXPECT_FALSE(ConfigSpace::access_ok(0x63, 2));
  EXPECT_FALSE(ConfigSpace::access_ok(0x60, 3));
  EXPECT_FALSE(ConfigSpace::access_ok(0x60, 8));
  EXPECT_FALSE(ConfigSpace::access_ok(0x60, 0));
  EXPECT_FALSE(ConfigSpace::access_ok(0x1000, 1));
  EXPECT_FALSE(ConfigSpace::access_ok(0xffffffff, 1));
  EXPECT_TRUE(ConfigSpace::access_ok(0xffc, 4));
  config.write(0x62, 4, 0xffffffff);
  config.write(0x60, 3, 0xffffffff);
  config.write(0x1000, 1, 0xff);
  EXPECT_EQ(config.read(0x60, 4), 0u);
  EXPECT_EQ(config.read(0x64, 4), 0u);
  EXPECT_EQ(config.read(0x62, 4), 0xffffffffu);
  EXPECT_EQ(config.read(0x1000, 1), 0xffffffffu);
  config.write(0xffc, 4, 0x01020304);
  EXPECT_EQ(config.read(0xffc, 4), 0x01020304u);
  EXPECT_EQ(config.read(0x0, 4), 0u);  // the oversized set_writable changed no mask
  config.write(0x0, 4, 0xffffffff);
  EXPECT_EQ(config.read(0x0, 4), 0u);
}

TEST(ConfigSpace, CapabilitiesFormAListAnnouncedInStatus) {
  ConfigSpace config;
  EXPECT_EQ(config.get(kStatus, 2) & kStatusCapabilityList, 0u);
  auto a = config.add_capability(0x11, 12);
  auto b = config.add_capability(0x10, 0x3c);
  auto c = config.add_capability(0x05, 10);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, 0x40);
  EXPECT_EQ(*b, 0x4c);
  EXPECT_EQ(*c, 0x88);  // dword aligned after 0x4c + 0x3c
  EXPECT_EQ(config.read(kCapabilityPointer, 1), 0x40u);
  EXPECT_EQ(config.read(0x40, 2), 0x4c11u);
  EXPECT_EQ(config.read(0x4c, 2), 0x8810u);
  EXPECT_EQ(config.read(0x88, 2), 0x0005u);
  EXPECT_NE(config.get(kStatus, 2) & kStatusCapabilityList, 0u);
  EXPECT_EQ(config.find_capability(0x10), 0x4c);
  EXPECT_EQ(config.find_capability(0x05), 0x88);
  EXPECT_EQ(config.find_capability(0x09), std::nullopt);
  // The guest cannot rewrite the chain.
  config.write(kCapabilityPointer, 1, 0x80);
  config.write(0x41, 1, 0);
  EXPECT_EQ(config.read(kCapabilityPointer, 1), 0x40u);
  EXPECT_EQ(config.read(0x41, 1), 0x4cu);
}

TEST(ConfigSpace, CapabilitiesMustFitTheFirst256Bytes) {
  ConfigSpace config;
  ASSERT_TRUE(config.add_capability(0x10, 0xb0));  // 0x40-0xef
  auto too_big = config.add_capability(0x11, 0x14);
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code(), Errc::kNoResources);
  EXPECT_NE(too_big.error().message().find("0xf0-0xff"), std::string::npos)
      << too_big.error().message();
  EXPECT_TRUE(config.add_capability(0x11, 0x10));  // exactly fills the area
  EXPECT_FALSE(config.add_capability(0x05, 2));
}

TEST(Capabilities, MsixControlHasTableSizeReadOnlyAndEnableAndMaskWritable) {
  ConfigSpace config;
  auto at = add_msix_capability(
      config,
      {.vectors = 8, .table_bar = 2, .table_offset = 0, .pba_bar = 2, .pba_offset = 0x2000});
  ASSERT_TRUE(at);
  EXPECT_EQ(config.read(*at, 1), kCapMsix);
  EXPECT_EQ(config.read(*at + kMsixControl, 2), 7u);
  config.write(*at + kMsixControl, 2, 0xffff);
  EXPECT_EQ(config.read(*at + kMsixControl, 2), 0xc007u);
  config.write(*at + kMsixControl, 2, 0);
  EXPECT_EQ(config.read(*at + kMsixControl, 2), 7u);
  EXPECT_EQ(config.read(*at + kMsixTable, 4), 2u);
  EXPECT_EQ(config.read(*at + kMsixPba, 4), 0x2002u);
  config.write(*at + kMsixTable, 4, 0x1000);
  EXPECT_EQ(config.read(*at + kMsixTable, 4), 2u);
}

TEST(Capabilities, MsixRejectsImpossibleLayouts) {
  ConfigSpace config;
  EXPECT_FALSE(add_msix_capability(config, {.vectors = 0}));
  EXPECT_FALSE(add_msix_capability(config, {.vectors = 2049}));
  EXPECT_FALSE(add_msix_capability(config, {.vectors = 1, .table_bar = 6}));
  EXPECT_FALSE(add_msix_capability(config, {.vectors = 1, .table_offset = 4}));
  EXPECT_FALSE(add_msix_capability(config, {.vectors = 1, .pba_bar = 7}));
  EXPECT_EQ(config.read(kCapabilityPointer, 1), 0u);  // nothing was added
  EXPECT_TRUE(add_msix_capability(config, {.vectors = 2048}));
}

TEST(Capabilities, Msi64BitWithPerVectorMasking) {
  ConfigSpace config;
  auto at = add_msi_capability(config, {.vectors = 4, .address64 = true, .per_vector_mask = true});
  ASSERT_TRUE(at);
  EXPECT_EQ(config.read(*at, 1), kCapMsi);
  // Multiple Message Capable = log2(4) = 2, 64-bit, per-vector masking.
  EXPECT_EQ(config.read(*at + kMsiControl, 2), 0x0184u);
  config.write(*at + kMsiControl, 2, 0xffff);
  EXPECT_EQ(config.read(*at + kMsiControl, 2), 0x01f5u);  // enable + Multiple Message Enable
  config.write(*at + 0x4, 4, 0xfee01003);
  EXPECT_EQ(config.read(*at + 0x4, 4), 0xfee01000u);  // address bits 1:0 are zero
  config.write(*at + 0x8, 4, 0x12345678);
  EXPECT_EQ(config.read(*at + 0x8, 4), 0x12345678u);
  config.write(*at + 0xc, 4, 0xffffffff);
  EXPECT_EQ(config.read(*at + 0xc, 4), 0x0000ffffu);  // 16 bits of data
  config.write(*at + 0x10, 4, 0xffffffff);
  EXPECT_EQ(config.read(*at + 0x10, 4), 0xfu);  // a mask bit per vector
  config.write(*at + 0x14, 4, 0xffffffff);
  EXPECT_EQ(config.read(*at + 0x14, 4), 0u);  // pending bits are read-only
}

TEST(Capabilities, Msi32BitWithoutMaskingIsShort) {
  ConfigSpace config;
  auto at = add_msi_capability(config, {.vectors = 1, .address64 = false});
  ASSERT_TRUE(at);
  EXPECT_EQ(config.read(*at + kMsiControl, 2), 0u);
  config.write(*at + 0x8, 2, 0xbeef);  // data follows the 32-bit address
  EXPECT_EQ(config.read(*at + 0x8, 2), 0xbeefu);
  EXPECT_EQ(*config.add_capability(0x09, 4), *at + 12);
  EXPECT_FALSE(add_msi_capability(config, {.vectors = 3}));
  EXPECT_FALSE(add_msi_capability(config, {.vectors = 64}));
}

TEST(Capabilities, PcieIntegratedEndpoint) {
  ConfigSpace config;
  auto at = add_pcie_capability(config);
  ASSERT_TRUE(at);
  EXPECT_EQ(config.read(*at, 1), kCapPcie);
  EXPECT_EQ(config.read(*at + kPcieFlags, 2), 0x0092u);                       // version 2, type 9
  EXPECT_EQ(config.read(*at + kPcieDeviceCapabilities, 4) & (1u << 28), 0u);  // no FLR
  EXPECT_EQ(config.read(*at + kPcieDeviceControl, 2), 0x2810u);
  config.write(*at + kPcieDeviceControl, 2, 0xffff);
  EXPECT_EQ(config.read(*at + kPcieDeviceControl, 2), 0x79ffu);  // FLR, phantom, aux stay 0
  config.set(*at + kPcieDeviceStatus, 2, 0x002f);
  config.write(*at + kPcieDeviceStatus, 2, 0x0021);  // clears error bit 0 only
  EXPECT_EQ(config.read(*at + kPcieDeviceStatus, 2), 0x002eu);
  config.write(*at + kPcieDeviceControl2, 2, 0xffff);
  EXPECT_EQ(config.read(*at + kPcieDeviceControl2, 2), 0u);
}

}  // namespace
}  // namespace ferry::pci

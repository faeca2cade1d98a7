// plan_config() on hand-made configuration spaces: which capabilities stay in the guest's chain,
// which bytes are the device's, and where a malformed chain stops the walk.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>

#include "ferry/vfio/assigned_config.h"

namespace ferry::vfio {
namespace {

using ::testing::ElementsAre;

constexpr uint8_t kPm = 0x01, kMsi = 0x05, kVendor = 0x09, kPcie = 0x10, kMsix = 0x11;
constexpr uint8_t kSata = 0x12;  // hidden: ferry does not pass it through

struct Raw {
  std::array<uint8_t, 256> bytes{};
  Raw() {
    put(0x06, 0x10, 2);  // status: capability list
  }
  void put(unsigned at, uint32_t value, unsigned size) {
    for (unsigned i = 0; i < size; ++i) bytes[at + i] = static_cast<uint8_t>(value >> (8 * i));
  }
  void chain(std::initializer_list<std::pair<uint8_t, uint8_t>> caps) {  // {offset, id}
    const auto* it = caps.begin();
    put(0x34, it->first, 1);
    for (; it != caps.end(); ++it) {
      const auto* next = std::next(it);
      put(it->first, it->second, 1);
      put(it->first + 1, next == caps.end() ? 0 : next->first, 1);
    }
  }
  ConfigPlan plan() const { return plan_config(bytes); }
};

std::vector<std::pair<uint8_t, uint8_t>> kept(const ConfigPlan& plan) {  // {offset, next}
  std::vector<std::pair<uint8_t, uint8_t>> out;
  for (const KeptCapability& k : plan.kept) out.emplace_back(k.offset, k.next);
  return out;
}

TEST(PlanConfig, KeepsWhatFerryHonoursAndRelinksTheChainAroundWhatItHides) {
  Raw raw;
  raw.chain({{0x40, kPm}, {0x50, kSata}, {0x60, kMsix}, {0x70, kPcie}});
  const ConfigPlan plan = raw.plan();
  EXPECT_THAT(kept(plan), ElementsAre(std::pair<uint8_t, uint8_t>{0x40, 0x60},
                                      std::pair<uint8_t, uint8_t>{0x60, 0x70},
                                      std::pair<uint8_t, uint8_t>{0x70, 0x00}));
  EXPECT_THAT(plan.hidden, ElementsAre("capability 0x12"));
}

TEST(PlanConfig, TheHeaderCapabilityHeadersAndMsixAreFerrysTheRestIsTheDevices) {
  Raw raw;
  raw.chain({{0x40, kPm}, {0x60, kMsix}, {0x80, kVendor}});
  raw.put(0x62, 7, 2);  // 8 vectors
  raw.put(0x64, 0x2000 | 0, 4);
  raw.put(0x68, 0x3000 | 2, 4);
  const ConfigPlan plan = raw.plan();
  for (unsigned b = 0; b < 0x40; ++b) EXPECT_FALSE(plan.forwarded.test(b)) << "header " << b;
  EXPECT_FALSE(plan.forwarded.test(0x40));  // PM's id and next
  EXPECT_FALSE(plan.forwarded.test(0x41));
  EXPECT_TRUE(plan.forwarded.test(0x42));  // PM's own registers
  EXPECT_TRUE(plan.forwarded.test(0x44));
  for (unsigned b = 0x60; b < 0x6c; ++b) EXPECT_FALSE(plan.forwarded.test(b)) << "MSI-X " << b;
  EXPECT_TRUE(plan.forwarded.test(0x6c));
  EXPECT_FALSE(plan.forwarded.test(0x81));
  EXPECT_TRUE(plan.forwarded.test(0x82));
  EXPECT_TRUE(plan.forwarded.test(0xff));
  ASSERT_TRUE(plan.msix);
  EXPECT_EQ(plan.msix->cap, 0x60);
  EXPECT_EQ(plan.msix->vectors, 8u);
  EXPECT_EQ(plan.msix->table_bar, 0u);
  EXPECT_EQ(plan.msix->table_offset, 0x2000u);
  EXPECT_EQ(plan.msix->pba_bar, 2u);
  EXPECT_EQ(plan.msix->pba_offset, 0x3000u);
  EXPECT_FALSE(plan.msi);
}

TEST(PlanConfig, ALoopInTheChainEndsTheWalk) {
  Raw raw;
  raw.chain({{0x40, kPm}, {0x50, kPcie}});
  raw.put(0x51, 0x40, 1);  // PCIe points back at PM
  const ConfigPlan plan = raw.plan();
  EXPECT_THAT(kept(plan), ElementsAre(std::pair<uint8_t, uint8_t>{0x40, 0x50},
                                      std::pair<uint8_t, uint8_t>{0x50, 0x00}));
}

TEST(PlanConfig, APointerIntoTheHeaderEndsTheWalk) {
  Raw raw;
  raw.chain({{0x40, kPm}});
  raw.put(0x41, 0x10, 1);  // into the BARs
  EXPECT_THAT(kept(raw.plan()), ElementsAre(std::pair<uint8_t, uint8_t>{0x40, 0x00}));
}

TEST(PlanConfig, NoCapabilityListBitMeansNoChain) {
  Raw raw;
  raw.chain({{0x40, kPm}});
  raw.put(0x06, 0, 2);
  const ConfigPlan plan = raw.plan();
  EXPECT_TRUE(plan.kept.empty());
  EXPECT_TRUE(plan.forwarded.test(0x40));  // the bytes are the device's like any others
}

TEST(PlanConfig, Msi32BitWithoutMaskIsTenBytesOfFerrys) {
  Raw raw;
  raw.chain({{0x50, kMsi}});
  raw.put(0x52, 0x0000, 2);
  const ConfigPlan plan = raw.plan();
  ASSERT_TRUE(plan.msi);
  EXPECT_FALSE(plan.msi->is_64bit);
  EXPECT_FALSE(plan.msi->per_vector_mask);
  EXPECT_EQ(plan.msi->data_offset(), 0x08);
  EXPECT_EQ(plan.msi->length(), 0x0a);
  for (unsigned b = 0x50; b < 0x5a; ++b) EXPECT_FALSE(plan.forwarded.test(b)) << b;
  EXPECT_TRUE(plan.forwarded.test(0x5a));
}

TEST(PlanConfig, Msi64BitWithPerVectorMaskCoversMaskAndPendingBits) {
  Raw raw;
  raw.chain({{0x50, kMsi}, {0x70, kPcie}});
  raw.put(0x52, 0x0180, 2);  // 64-bit, per-vector mask
  const ConfigPlan plan = raw.plan();
  ASSERT_TRUE(plan.msi);
  EXPECT_TRUE(plan.msi->is_64bit);
  EXPECT_TRUE(plan.msi->per_vector_mask);
  EXPECT_EQ(plan.msi->data_offset(), 0x0c);
  EXPECT_EQ(plan.msi->mask_offset(), 0x10);
  EXPECT_EQ(plan.msi->length(), 0x18);
  for (unsigned b = 0x50; b < 0x68; ++b) EXPECT_FALSE(plan.forwarded.test(b)) << b;
  EXPECT_TRUE(plan.forwarded.test(0x68));
  EXPECT_THAT(kept(plan), ElementsAre(std::pair<uint8_t, uint8_t>{0x50, 0x70},
                                      std::pair<uint8_t, uint8_t>{0x70, 0x00}));
}

TEST(PlanConfig, Msi32BitWithPerVectorMask) {
  Raw raw;
  raw.chain({{0x50, kMsi}});
  raw.put(0x52, 0x0100, 2);
  const ConfigPlan plan = raw.plan();
  ASSERT_TRUE(plan.msi);
  EXPECT_EQ(plan.msi->mask_offset(), 0x0c);
  EXPECT_EQ(plan.msi->length(), 0x14);
  EXPECT_FALSE(plan.forwarded.test(0x63));
  EXPECT_TRUE(plan.forwarded.test(0x64));
}

}  // namespace
}  // namespace ferry::vfio

// Decoding real config spaces: the lab's QEMU devices (captured from its sysfs) and public
// dumps of physical devices (pciutils' test data). Every expected value is what lspci prints
// for the same bytes (lspci -F <dump> -vvv, or lspci -A linux-sysfs -O sysfs.path=...).
#include "ferry/pci/host/capabilities.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/base/units.h"
#include "pci_fixtures.h"

namespace ferry::pci::host {
namespace {

using test::dump_config;
using test::fixture_config;
using testing::ElementsAre;

std::vector<std::pair<uint16_t, bool>> ids(const Capabilities& caps) {
  std::vector<std::pair<uint16_t, bool>> out;
  for (const CapabilityHeader& h : caps.list) out.emplace_back(h.id, h.extended);
  return out;
}

TEST(Capabilities, QemuNvmeMsixExpressAndPm) {
  ConfigSpace config(fixture_config("lab-q35", "0000:01:00.0"));
  ASSERT_EQ(config.size(), kExtendedConfigSize);
  EXPECT_EQ(config.read16(0), 0x1b36);
  EXPECT_EQ(config.header_type(), 0);
  const Capabilities caps = parse_capabilities(config);
  // lspci: [40] MSI-X, [80] Express (v2) Endpoint, [60] Power Management version 3.
  EXPECT_THAT(ids(caps), ElementsAre(std::pair<uint16_t, bool>{kCapMsix, false},
                                     std::pair<uint16_t, bool>{kCapExpress, false},
                                     std::pair<uint16_t, bool>{kCapPowerManagement, false}));
  EXPECT_EQ(caps.list[0].offset, 0x40);
  ASSERT_TRUE(caps.msix);
  EXPECT_EQ(caps.msix->table_size, 65u);  // Count=65
  EXPECT_EQ(caps.msix->table_bar, 0);
  EXPECT_EQ(caps.msix->table_offset, 0x2000u);
  EXPECT_EQ(caps.msix->pba_bar, 0);
  EXPECT_EQ(caps.msix->pba_offset, 0x3000u);
  EXPECT_EQ(caps.msix->table_bytes(), 65u * 16);
  EXPECT_EQ(caps.msix->pba_bytes(), 16u);
  ASSERT_TRUE(caps.express);
  EXPECT_EQ(caps.express->version, 2);
  EXPECT_EQ(caps.express->type, static_cast<uint8_t>(ExpressType::kEndpoint));
  EXPECT_TRUE(caps.express->flr);  // FLReset+
  EXPECT_EQ(caps.express->max_payload, 128u);
  ASSERT_TRUE(caps.express->link);
  EXPECT_EQ(caps.express->link->speed, 1);  // 2.5GT/s
  EXPECT_EQ(caps.express->link->width, 1);
  ASSERT_TRUE(caps.pm);
  EXPECT_EQ(caps.pm->version, 3);
  EXPECT_TRUE(caps.pm->no_soft_reset);  // NoSoftRst+
  EXPECT_FALSE(caps.msi);
  EXPECT_FALSE(caps.aer);
}

TEST(Capabilities, QemuE1000eMsiMsixAerSerial) {
  const Capabilities caps =
      parse_capabilities(ConfigSpace(fixture_config("lab-q35", "0000:02:00.0")));
  ASSERT_TRUE(caps.msi);
  EXPECT_EQ(caps.msi->vectors, 1u);  // Count=1/1
  EXPECT_TRUE(caps.msi->address64);
  EXPECT_FALSE(caps.msi->per_vector_mask);  // Maskable-
  ASSERT_TRUE(caps.msix);
  EXPECT_EQ(caps.msix->table_size, 5u);
  EXPECT_EQ(caps.msix->table_bar, 3);
  EXPECT_EQ(caps.msix->table_offset, 0u);
  EXPECT_EQ(caps.msix->pba_bar, 3);
  EXPECT_EQ(caps.msix->pba_offset, 0x2000u);
  ASSERT_TRUE(caps.express);
  EXPECT_EQ(caps.express->version, 1);
  EXPECT_FALSE(caps.express->flr);  // FLReset-
  ASSERT_TRUE(caps.pm);
  EXPECT_EQ(caps.pm->version, 2);
  ASSERT_TRUE(caps.aer);
  EXPECT_EQ(caps.aer->version, 2);
  EXPECT_TRUE(caps.aer->ecrc_generation);  // ECRCGenCap+
  EXPECT_TRUE(caps.aer->ecrc_check);       // ECRCChkCap+
  ASSERT_EQ(caps.list.size(), 6u);
  EXPECT_EQ(capability_name(caps.list[5]), "Device Serial Number");
  EXPECT_EQ(caps.list[5].offset, 0x140);
}

TEST(Capabilities, QemuRootPortAcsAndLink) {
  const Capabilities caps =
      parse_capabilities(ConfigSpace(fixture_config("lab-q35", "0000:00:02.0")));
  ASSERT_TRUE(caps.express);
  EXPECT_EQ(caps.express->type, static_cast<uint8_t>(ExpressType::kRootPort));
  ASSERT_TRUE(caps.express->link);
  EXPECT_EQ(caps.express->link->max_speed, 4);  // LnkCap: Speed 16GT/s, Width x32
  EXPECT_EQ(caps.express->link->max_width, 32);
  EXPECT_EQ(caps.express->link->speed, 1);  // LnkSta: Speed 2.5GT/s, Width x1
  EXPECT_EQ(link_speed_name(caps.express->link->max_speed), "16 GT/s");
  ASSERT_TRUE(caps.acs);
  // ACSCap: SrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans+
  EXPECT_EQ(caps.acs->capabilities, 0x5f);
  // ACSCtl: SrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-
  EXPECT_EQ(caps.acs->control, 0x1d);
  EXPECT_EQ(acs_flags_text(caps.acs->control), "SrcValid ReqRedir CmpltRedir UpstreamFwd");
}

TEST(Capabilities, QemuNvmeSriov) {
  const Capabilities caps =
      parse_capabilities(ConfigSpace(fixture_config("lab-q35", "0000:06:00.0")));
  ASSERT_TRUE(caps.sriov);
  // Initial VFs: 2, Total VFs: 2, Number of VFs: 0; VF offset: 1, stride: 1, Device ID: 0010
  EXPECT_EQ(caps.sriov->initial_vfs, 2);
  EXPECT_EQ(caps.sriov->total_vfs, 2);
  EXPECT_EQ(caps.sriov->num_vfs, 0);
  EXPECT_FALSE(caps.sriov->vf_enabled);
  EXPECT_EQ(caps.sriov->first_vf_offset, 1);
  EXPECT_EQ(caps.sriov->vf_stride, 1);
  EXPECT_EQ(caps.sriov->vf_device_id, 0x0010);
}

TEST(Capabilities, EduMsiOnConventionalConfig) {
  ConfigSpace config(fixture_config("lab-q35", "0000:00:06.0"));
  const Capabilities caps = parse_capabilities(config);
  ASSERT_TRUE(caps.msi);
  EXPECT_EQ(caps.list.size(), 1u);  // [40] MSI: Count=1/1 64bit+, nothing extended
  EXPECT_FALSE(caps.express);
}

TEST(Capabilities, IntelSriovNicFromPublicDump) {
  // pciutils tests/cap-pcie-2: Intel 82576.
  const Capabilities caps = parse_capabilities(ConfigSpace(dump_config("cap-pcie-2.hex")));
  ASSERT_TRUE(caps.sriov);
  EXPECT_EQ(caps.sriov->initial_vfs, 8);
  EXPECT_EQ(caps.sriov->total_vfs, 8);
  EXPECT_EQ(caps.sriov->num_vfs, 1);
  EXPECT_EQ(caps.sriov->first_vf_offset, 384);
  EXPECT_EQ(caps.sriov->vf_stride, 2);
  EXPECT_EQ(caps.sriov->vf_device_id, 0x10ca);
  ASSERT_TRUE(caps.msix);
  EXPECT_EQ(caps.msix->table_size, 10u);
  EXPECT_EQ(caps.msix->table_bar, 3);
  EXPECT_EQ(caps.msix->pba_offset, 0x2000u);
  ASSERT_TRUE(caps.msi);
  EXPECT_TRUE(caps.msi->per_vector_mask);  // Maskable+
  ASSERT_TRUE(caps.express);
  EXPECT_TRUE(caps.express->flr);
  EXPECT_EQ(caps.express->link->width, 4);
  ASSERT_TRUE(caps.aer);
  EXPECT_FALSE(caps.aer->ecrc_generation);  // ECRCGenCap-
}

TEST(Capabilities, AmdGpuResizableBarFromPublicDump) {
  // pciutils tests/cap-rebar: AMD Fiji. "BAR 0: current size: 256MB, supported: 256MB 512MB
  // 1GB 2GB 4GB"; a Legacy Endpoint with MSI 1/1.
  const Capabilities caps = parse_capabilities(ConfigSpace(dump_config("cap-rebar.hex")));
  ASSERT_EQ(caps.resizable_bars.size(), 1u);
  const ResizableBarEntry& rebar = caps.resizable_bars[0];
  EXPECT_EQ(rebar.bar, 0);
  EXPECT_EQ(rebar.current_size, 256 * kMiB);
  EXPECT_THAT(rebar.supported_sizes, ElementsAre(256 * kMiB, 512 * kMiB, kGiB, 2 * kGiB, 4 * kGiB));
  ASSERT_TRUE(caps.express);
  EXPECT_EQ(caps.express->type, static_cast<uint8_t>(ExpressType::kLegacyEndpoint));
  EXPECT_EQ(caps.express->link->max_speed, 3);  // 8GT/s x16
  EXPECT_EQ(caps.express->link->max_width, 16);
  ASSERT_TRUE(caps.msi);
  EXPECT_EQ(caps.msi->vectors, 1u);
}

TEST(Capabilities, UnalignedPbaFromPublicDump) {
  // pciutils tests/cap-dev3: MSI Count=1/8, MSI-X Count=16, table BAR0+0x2000, PBA BAR0+0x2100.
  const Capabilities caps = parse_capabilities(ConfigSpace(dump_config("cap-dev3.hex")));
  ASSERT_TRUE(caps.msi);
  EXPECT_EQ(caps.msi->vectors, 8u);
  ASSERT_TRUE(caps.msix);
  EXPECT_EQ(caps.msix->table_size, 16u);
  EXPECT_EQ(caps.msix->table_offset, 0x2000u);
  EXPECT_EQ(caps.msix->pba_offset, 0x2100u);
}

TEST(Capabilities, ShortConfigReadHidesExtendedCapabilities) {
  // What a non-root reader of a PCIe device's sysfs config sees: 256 or only 64 bytes.
  std::vector<uint8_t> bytes = fixture_config("lab-q35", "0000:02:00.0");
  bytes.resize(kConfigSize);
  const Capabilities caps = parse_capabilities(ConfigSpace(bytes));
  EXPECT_TRUE(caps.msix);
  EXPECT_FALSE(caps.aer);
  bytes.resize(kConfigHeaderSize);
  EXPECT_TRUE(parse_capabilities(ConfigSpace(bytes)).list.empty());
}

TEST(Capabilities, ChainLoopsEndTheWalk) {
  // The NVMe's standard chain is 40 -> 80 -> 60 -> end. Point the last back at the first.
  std::vector<uint8_t> bytes = fixture_config("lab-q35", "0000:01:00.0");
  ASSERT_EQ(bytes[0x61], 0x00);
  bytes[0x61] = 0x40;
  EXPECT_EQ(parse_capabilities(ConfigSpace(bytes)).list.size(), 3u);
  // And an extended header that points to itself (the SR-IOV NVMe's ARI at 0x100 -> 0x120).
  std::vector<uint8_t> sriov = fixture_config("lab-q35", "0000:06:00.0");
  ASSERT_EQ(sriov[0x103], 0x12);  // next = 0x120
  sriov[0x102] &= 0x0f;
  sriov[0x103] = 0x10;  // next = 0x100
  const Capabilities caps = parse_capabilities(ConfigSpace(sriov));
  EXPECT_EQ(caps.list.back().offset, 0x100);
  EXPECT_FALSE(caps.sriov);
}

TEST(Capabilities, NamesKnownAndUnknownIds) {
  EXPECT_EQ(capability_name({false, kCapMsix, 0x40, 0}), "MSI-X");
  EXPECT_EQ(capability_name({true, kExtCapSriov, 0x160, 1}), "Single Root I/O Virtualization");
  EXPECT_EQ(capability_name({false, 0x42, 0x40, 0}), "capability 0x42");
  EXPECT_EQ(capability_name({true, 0x77, 0x100, 1}), "extended capability 0x0077");
  EXPECT_EQ(express_type_name(9), "Root Complex Integrated Endpoint");
  EXPECT_EQ(link_speed_name(9), "unknown");
}

}  // namespace
}  // namespace ferry::pci::host

// The fixed tables of lib/acpi: lengths, checksums and the fields the guest reads.
#include <gtest/gtest.h>

#include <cstring>

#include "ferry/acpi/tables.h"

namespace ferry::acpi {
namespace {

uint64_t read_le(const Bytes& b, size_t offset, unsigned size) {
  uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= uint64_t{b.at(offset + i)} << (8 * i);
  return v;
}

void expect_valid_table(const Bytes& table, std::string_view signature) {
  ASSERT_GE(table.size(), kHeaderSize);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(table.data()), 4), signature);
  EXPECT_EQ(read_le(table, kLengthOffset, 4), table.size());
  EXPECT_EQ(byte_sum(table), 0) << signature << ": the bytes must sum to zero";
}

TEST(AcpiTables, RsdpHasBothChecksumsTheXsdtAndRevision2) {
  const Bytes r = rsdp(0x12345678abcull);
  ASSERT_EQ(r.size(), kRsdpSize);
  EXPECT_EQ(std::string(r.begin(), r.begin() + 8), "RSD PTR ");
  EXPECT_EQ(byte_sum(std::span(r).first(20)), 0) << "the ACPI 1.0 checksum covers 20 bytes";
  EXPECT_EQ(byte_sum(r), 0) << "the extended checksum covers all 36";
  EXPECT_EQ(r[15], 2);                             // revision
  EXPECT_EQ(read_le(r, 16, 4), 0u);                // no RSDT
  EXPECT_EQ(read_le(r, 20, 4), kRsdpSize);         // length
  EXPECT_EQ(read_le(r, 24, 8), 0x12345678abcull);  // XSDT
}

TEST(AcpiTables, XsdtListsEachTable) {
  const uint64_t tables[] = {0xe0100, 0xe0200, 0x1'0000'0000};
  const Bytes x = xsdt(tables);
  expect_valid_table(x, "XSDT");
  ASSERT_EQ(x.size(), kHeaderSize + 3 * 8);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(read_le(x, kHeaderSize + 8 * i, 8), tables[i]);
}

TEST(AcpiTables, FadtIsHardwareReducedWithTheSleepAndResetRegisters) {
  const Bytes f = fadt({.dsdt = 0xe0400,
                        .sleep_control = Gas::io_byte(0x600),
                        .sleep_status = Gas::io_byte(0x601),
                        .reset = Gas::io_byte(0x602),
                        .reset_value = 0x01,
                        .boot_arch = kBootArchCmosRtcNotPresent});
  expect_valid_table(f, "FACP");
  ASSERT_EQ(f.size(), kFadtSize);
  EXPECT_EQ(f[8], 6);    // revision 6 ...
  EXPECT_EQ(f[131], 3);  // ... minor 3: ACPI 6.3
  EXPECT_EQ(read_le(f, 36, 4), 0u) << "no FACS";
  EXPECT_EQ(read_le(f, 40, 4), 0xe0400u);
  EXPECT_EQ(read_le(f, 140, 8), 0xe0400u) << "X_DSDT";
  EXPECT_EQ(read_le(f, 46, 2), 0u) << "no SCI";
  EXPECT_EQ(read_le(f, 76, 4), 0u) << "no PM timer";
  EXPECT_EQ(read_le(f, 208 + 4, 8), 0u) << "no X_PM_TMR_BLK";
  EXPECT_EQ(read_le(f, 109, 2), kBootArchCmosRtcNotPresent);
  const uint32_t flags = static_cast<uint32_t>(read_le(f, 112, 4));
  EXPECT_EQ(flags, kFadtHwReducedAcpi | kFadtResetRegSupported);
  // RESET_REG, SLEEP_CONTROL_REG, SLEEP_STATUS_REG: system I/O, 8 bits, byte access.
  for (auto [offset, port] : {std::pair{116, 0x602}, {244, 0x600}, {256, 0x601}}) {
    EXPECT_EQ(f[offset], 1) << offset;      // system I/O space
    EXPECT_EQ(f[offset + 1], 8) << offset;  // bit width
    EXPECT_EQ(f[offset + 2], 0) << offset;  // bit offset
    EXPECT_EQ(f[offset + 3], 1) << offset;  // byte access
    EXPECT_EQ(read_le(f, offset + 4, 8), uint64_t(port)) << offset;
  }
  EXPECT_EQ(f[128], 0x01) << "RESET_VALUE";
}

TEST(AcpiTables, FadtWithoutResetRegisterDoesNotClaimOne) {
  const Bytes f = fadt({.dsdt = 0x1000,
                        .sleep_control = Gas::io_byte(0x600),
                        .sleep_status = Gas::io_byte(0x601),
                        .reset = {},
                        .reset_value = 0,
                        .boot_arch = 0});
  EXPECT_EQ(read_le(f, 112, 4), kFadtHwReducedAcpi);
}

class MadtForCpus : public ::testing::TestWithParam<unsigned> {};

TEST_P(MadtForCpus, HasAnEnabledLocalApicPerCpuAndTheIoapic) {
  const unsigned cpus = GetParam();
  const Bytes m = madt({.lapic_address = 0xfee00000,
                        .cpus = cpus,
                        .ioapic_id = 0,
                        .ioapic_address = 0xfec00000,
                        .ioapic_gsi_base = 0});
  expect_valid_table(m, "APIC");
  EXPECT_EQ(read_le(m, 36, 4), 0xfee00000u);
  EXPECT_EQ(read_le(m, 40, 4), 0u) << "no PCAT_COMPAT";
  const unsigned xapic = std::min(cpus, 255u);
  EXPECT_EQ(m.size(), kMadtFixedSize + xapic * kMadtLapicSize + (cpus - xapic) * kMadtX2apicSize +
                          kMadtIoapicSize);
  size_t at = kMadtFixedSize;
  for (unsigned id = 0; id < cpus; ++id) {
    if (id < 255) {
      ASSERT_EQ(m[at], 0) << id;
      ASSERT_EQ(m[at + 1], kMadtLapicSize);
      EXPECT_EQ(m[at + 2], id) << "processor UID";
      EXPECT_EQ(m[at + 3], id) << "APIC ID";
      EXPECT_EQ(read_le(m, at + 4, 4), 1u) << "enabled";
    } else {
      ASSERT_EQ(m[at], 9) << id;
      ASSERT_EQ(m[at + 1], kMadtX2apicSize);
      EXPECT_EQ(read_le(m, at + 4, 4), id) << "x2APIC ID";
      EXPECT_EQ(read_le(m, at + 8, 4), 1u) << "enabled";
      EXPECT_EQ(read_le(m, at + 12, 4), id) << "processor UID";
    }
    at += m[at + 1];
  }
  ASSERT_EQ(m[at], 1) << "the IOAPIC follows the CPUs";
  ASSERT_EQ(m[at + 1], kMadtIoapicSize);
  EXPECT_EQ(read_le(m, at + 4, 4), 0xfec00000u);
  EXPECT_EQ(read_le(m, at + 8, 4), 0u) << "GSI base";
  EXPECT_EQ(at + kMadtIoapicSize, m.size());
}

INSTANTIATE_TEST_SUITE_P(CpuCounts, MadtForCpus, ::testing::Values(1u, 2u, 64u, 255u, 256u));

TEST(AcpiTables, McfgCarriesEachEcamAllocation) {
  const McfgAllocation a[] = {{.base = 0xe0000000, .segment = 0, .start_bus = 0, .end_bus = 255},
                              {.base = 0x1'0000'0000, .segment = 1, .start_bus = 2, .end_bus = 3}};
  const Bytes m = mcfg(a);
  expect_valid_table(m, "MCFG");
  ASSERT_EQ(m.size(), kHeaderSize + 8 + 2 * 16);
  EXPECT_EQ(read_le(m, 44, 8), 0xe0000000u);
  EXPECT_EQ(read_le(m, 52, 2), 0u);
  EXPECT_EQ(m[54], 0);
  EXPECT_EQ(m[55], 255);
  EXPECT_EQ(read_le(m, 60, 8), 0x1'0000'0000u);
  EXPECT_EQ(read_le(m, 68, 2), 1u);
  EXPECT_EQ(m[70], 2);
  EXPECT_EQ(m[71], 3);
}

TEST(AcpiTables, DsdtWrapsTheAmlWithRevision2) {
  const uint8_t aml[] = {0x10, 0x05, 0x5c, 0x5f, 0x53, 0x42, 0x5f};
  const Bytes d = dsdt(aml);
  expect_valid_table(d, "DSDT");
  EXPECT_EQ(d[8], 2) << "revision 2: integers are 64 bits";
  EXPECT_EQ(0, std::memcmp(d.data() + kHeaderSize, aml, sizeof(aml)));
}

TEST(AcpiTables, HeaderNamesFerry) {
  const Bytes t = mcfg({});
  EXPECT_EQ(std::string(t.begin() + 10, t.begin() + 16), "FERRY ");
  EXPECT_EQ(std::string(t.begin() + 16, t.begin() + 24), "FERRYVM ");
  EXPECT_EQ(std::string(t.begin() + 28, t.begin() + 32), "FRRY");
}

}  // namespace
}  // namespace ferry::acpi

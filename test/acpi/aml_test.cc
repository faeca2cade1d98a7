// The AML encoder, term by term, against the bytes the ACPI spec's grammar (and iasl) gives.
#include <gtest/gtest.h>

#include "ferry/acpi/aml.h"

namespace ferry::acpi::aml {
namespace {

Bytes encoded(NameString path) {
  Bytes out;
  path.encode(out);
  return out;
}

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(Aml, PkgLengthCountsItselfAndGrowsAt63And4095Bytes) {
  EXPECT_EQ(pkg_length(0), Bytes{1});
  EXPECT_EQ(pkg_length(62), Bytes{63});
  EXPECT_EQ(pkg_length(63), (Bytes{0x41, 0x04}));  // 65 in two bytes: low nibble, then >> 4
  EXPECT_EQ(pkg_length(4093), (Bytes{0x4f, 0xff}));
  EXPECT_EQ(pkg_length(4094), (Bytes{0x81, 0x00, 0x01}));  // 4097 in three bytes
  EXPECT_EQ(pkg_length(1 << 20), (Bytes{0xc4, 0x00, 0x00, 0x01}));
}

TEST(Aml, IntegersUseTheSmallestEncoding) {
  EXPECT_EQ(integer(0), Bytes{0x00});
  EXPECT_EQ(integer(1), Bytes{0x01});
  EXPECT_EQ(integer(5), (Bytes{0x0a, 0x05}));
  EXPECT_EQ(integer(0x3f8), (Bytes{0x0b, 0xf8, 0x03}));
  EXPECT_EQ(integer(0xe0000000), (Bytes{0x0c, 0x00, 0x00, 0x00, 0xe0}));
  EXPECT_EQ(integer(0x1'0000'0000), (Bytes{0x0e, 0, 0, 0, 0, 1, 0, 0, 0}));
}

TEST(Aml, NamesArePaddedAndPrefixed) {
  EXPECT_EQ(encoded("_HID"), text("_HID"));
  EXPECT_EQ(encoded("A"), text("A___"));
  EXPECT_EQ(encoded("\\_S5"), text("\\_S5_"));
  EXPECT_EQ(encoded("\\_SB_.PCI0"), cat({text("\\"), {0x2e}, text("_SB_PCI0")}));
  EXPECT_EQ(encoded("_SB_.PCI0.COM1"), cat({{0x2f, 3}, text("_SB_PCI0COM1")}));
}

TEST(Aml, EisaIdsCompressLikeAsl) {
  EXPECT_EQ(eisa_id("PNP0A08"), (Bytes{0x0c, 0x41, 0xd0, 0x0a, 0x08}));
  EXPECT_EQ(eisa_id("PNP0A03"), (Bytes{0x0c, 0x41, 0xd0, 0x0a, 0x03}));
  EXPECT_EQ(eisa_id("PNP0501"), (Bytes{0x0c, 0x41, 0xd0, 0x05, 0x01}));
}

TEST(Aml, StringsAreNullTerminated) { EXPECT_EQ(string("ab"), (Bytes{0x0d, 'a', 'b', 0})); }

TEST(Aml, NamedObjectsScopesDevicesPackagesAndBuffers) {
  EXPECT_EQ(name("_UID", integer(0)), cat({{0x08}, text("_UID"), {0x00}}));
  EXPECT_EQ(scope("\\_SB_", {}), cat({{0x10, 0x06}, text("\\_SB_")}));
  EXPECT_EQ(device("PCI0", {integer(1)}), cat({{0x5b, 0x82, 0x06}, text("PCI0"), {0x01}}));
  EXPECT_EQ(package({integer(5), integer(0)}), (Bytes{0x12, 0x05, 0x02, 0x0a, 0x05, 0x00}));
  EXPECT_EQ(buffer({0xaa, 0xbb}), (Bytes{0x11, 0x05, 0x0a, 0x02, 0xaa, 0xbb}));
}

TEST(Aml, ALongDeviceGetsAMultiBytePkgLength) {
  const Bytes big(100, 0x01);
  const Bytes d = device("BIG_", {big});
  ASSERT_EQ(d.size(), 2 + 2 + 4 + 100u);
  EXPECT_EQ(d[2], 0x40 | ((2 + 4 + 100) & 0xf));
  EXPECT_EQ(d[3], (2 + 4 + 100) >> 4);
}

TEST(Aml, ResourceDescriptors) {
  EXPECT_EQ(io(0x3f8, 8), (Bytes{0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08}));
  EXPECT_EQ(irq_no_flags(4), (Bytes{0x22, 0x10, 0x00}));
  EXPECT_EQ(memory32_fixed(0xe0000000, 0x10000000),
            (Bytes{0x86, 0x09, 0x00, 0x01, 0, 0, 0, 0xe0, 0, 0, 0, 0x10}));
  EXPECT_EQ(word_bus_number(0, 255),
            (Bytes{0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0, 0, 0xff, 0, 0, 0, 0x00, 0x01}));
  EXPECT_EQ(word_io(0xc000, 0xffff), (Bytes{0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0xc0,
                                            0xff, 0xff, 0, 0, 0x00, 0x40}));
  const Bytes d = dword_memory(0xc0000000, 0xdfffffff);
  ASSERT_EQ(d.size(), 3u + 23);
  EXPECT_EQ((Bytes(d.begin(), d.begin() + 6)), (Bytes{0x87, 0x17, 0x00, 0x00, 0x0c, 0x01}));
  EXPECT_EQ((Bytes(d.end() - 4, d.end())), (Bytes{0, 0, 0, 0x20})) << "length 512 MiB";
  const Bytes q = qword_memory(0x1'0000'0000, 0xff'ffff'ffff);
  ASSERT_EQ(q.size(), 3u + 43);
  EXPECT_EQ((Bytes(q.begin(), q.begin() + 6)), (Bytes{0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x03}));
  EXPECT_EQ((Bytes(q.end() - 8, q.end())), (Bytes{0, 0, 0, 0, 0xff, 0, 0, 0})) << "1 TiB - 4 GiB";
}

TEST(Aml, ResourceTemplateEndsWithTheEndTag) {
  EXPECT_EQ(resource_template({irq_no_flags(4)}),
            (Bytes{0x11, 0x08, 0x0a, 0x05, 0x22, 0x10, 0x00, 0x79, 0x00}));
}

}  // namespace
}  // namespace ferry::acpi::aml

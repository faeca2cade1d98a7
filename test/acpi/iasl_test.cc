// ferry's tables through ACPICA's own disassembler (iasl -d, Debian acpica-tools): each table
// must disassemble without an error, and the DSDT must read back as the objects ferry meant.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fmt/format.h>

#include <fstream>

#include "ferry/acpi/sdt.h"
#include "platform_tables.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kIasl = "/usr/bin/iasl";

// Disassembles `table` from <dir>/<name>.dat; returns the .dsl text, or "" with a failure.
std::string disassemble(const TempDir& dir, const std::string& name,
                        const std::vector<uint8_t>& table) {
  const std::string dat = dir.path() + "/" + name + ".dat";
  std::ofstream(dat, std::ios::binary)
      .write(reinterpret_cast<const char*>(table.data()),
             static_cast<std::streamsize>(table.size()));
  const ProcessResult r = run_process({kIasl, "-d", dat}, dir.path());
  EXPECT_EQ(r.exit_status, 0) << name << ":\n" << r.out << r.err;
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("Error"))) << name;
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("Invalid"))) << name;
  return dir.read(name + ".dsl");
}

class Iasl : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(kIasl, X_OK), 0)
        << kIasl << " is missing: the ACPI tests need ACPICA's iasl (Debian acpica-tools); "
        << "./dev setup installs it, or apt-get install acpica-tools";
    auto image = vmm::build_acpi_tables(test_platform(4), kImageBase, vmm::kAcpiTablesSize);
    ASSERT_TRUE(image) << image.error().message();
    tables = tables_of(*image);
    ASSERT_EQ(tables.size(), 6u);
  }
  TempDir dir;
  std::map<std::string, std::vector<uint8_t>> tables;
};

TEST_F(Iasl, DisassemblesTheDsdtIntoFerrysDevices) {
  const std::string dsl = disassemble(dir, "dsdt", tables["DSDT"]);
  EXPECT_THAT(dsl, HasSubstr("Device (PCI0)"));
  EXPECT_THAT(dsl, HasSubstr("EisaId (\"PNP0A08\")"));
  EXPECT_THAT(dsl, HasSubstr("EisaId (\"PNP0A03\")"));
  EXPECT_THAT(dsl, HasSubstr("Device (COM1)"));
  EXPECT_THAT(dsl, HasSubstr("EisaId (\"PNP0501\")"));
  EXPECT_THAT(dsl, HasSubstr("EisaId (\"PNP0C02\")"));
  EXPECT_THAT(dsl, HasSubstr("Name (_S5, Package (0x04)"));
  EXPECT_THAT(dsl, HasSubstr("WordBusNumber (ResourceProducer"));
  EXPECT_THAT(dsl, HasSubstr("0xC000,             // Range Minimum"));
  EXPECT_THAT(dsl, HasSubstr("DWordMemory (ResourceProducer"));
  EXPECT_THAT(dsl, HasSubstr("0xC0000000,         // Range Minimum"));
  EXPECT_THAT(dsl, HasSubstr("QWordMemory (ResourceProducer"));
  EXPECT_THAT(dsl, HasSubstr("IO (Decode16,\n                    0x03F8,"));
  EXPECT_THAT(dsl, HasSubstr("IRQNoFlags ()\n                    {4}"));
  EXPECT_THAT(dsl, HasSubstr("0xE0000000,         // Address Base"));
  EXPECT_THAT(dsl, HasSubstr("Name (_PRT, Package (0x02)"));
}

TEST_F(Iasl, RecompilesTheDsdtToTheSameAml) {
  const std::vector<uint8_t>& ours = tables["DSDT"];
  disassemble(dir, "dsdt", ours);
  const ProcessResult r =
      run_process({kIasl, "-p", dir.path() + "/again", dir.path() + "/dsdt.dsl"}, dir.path());
  ASSERT_EQ(r.exit_status, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("0 Errors, 0 Warnings, 0 Remarks")) << r.out;
  const std::string again = dir.read("again.aml");
  ASSERT_EQ(again.size(), ours.size());
  // The header differs (iasl names itself the creator); the AML must not.
  EXPECT_EQ(again.substr(acpi::kHeaderSize),
            std::string(ours.begin() + acpi::kHeaderSize, ours.end()));
}

// ACPICA's interpreter loads the DSDT into a namespace and evaluates \\_S5 as Linux's poweroff
// does, and PCI0._PRT as Linux's PCI interrupt routing does.
TEST_F(Iasl, AcpiexecLoadsTheDsdtAndEvaluatesS5) {
  const std::string dat = dir.path() + "/dsdt.dat";
  std::ofstream(dat, std::ios::binary)
      .write(reinterpret_cast<const char*>(tables["DSDT"].data()),
             static_cast<std::streamsize>(tables["DSDT"].size()));
  const ProcessResult r =
      run_process({"/usr/bin/acpiexec", "-b",
                   "evaluate \\_S5; evaluate \\_SB.PCI0._HID; evaluate \\_SB.PCI0._PRT", dat},
                  dir.path());
  const std::string out = r.out + r.err;
  EXPECT_EQ(r.exit_status, 0) << out;
  EXPECT_THAT(out, Not(HasSubstr("Error"))) << out;
  EXPECT_THAT(out, HasSubstr("[Integer] = 0000000000000005")) << out;
  EXPECT_THAT(out, HasSubstr("[Integer] = 00000000080AD041")) << out;  // PNP0A08
  // _PRT: {slot 1 all functions, INTA#, GSI 16}, {slot 3, INTB#, GSI 17}.
  auto entry = [](const char* address, const char* pin, const char* gsi) {
    return fmt::format(
        "[Package] Contains 4 Elements:\n      [Integer] = {}\n      [Integer] = {}\n"
        "      [Integer] = 0000000000000000\n      [Integer] = {}\n",
        address, pin, gsi);
  };
  EXPECT_THAT(out, HasSubstr("[Package] Contains 2 Elements:")) << out;
  EXPECT_THAT(out, HasSubstr(entry("000000000001FFFF", "0000000000000000", "0000000000000010")));
  EXPECT_THAT(out, HasSubstr(entry("000000000003FFFF", "0000000000000001", "0000000000000011")));
}

TEST_F(Iasl, DisassemblesTheFadtAsHardwareReduced) {
  const std::string dsl = disassemble(dir, "facp", tables["FACP"]);
  EXPECT_THAT(dsl, HasSubstr("Hardware Reduced (V5) : 1"));
  EXPECT_THAT(dsl, HasSubstr("Reset Register Supported (V2) : 1"));
  EXPECT_THAT(dsl, HasSubstr("Address : 0000000000000600"));
  EXPECT_THAT(dsl, HasSubstr("Address : 0000000000000601"));
  EXPECT_THAT(dsl, HasSubstr("Address : 0000000000000602"));
}

// iasl -d takes no bare RSDP (it wants a table header); tables_test.cc checks it.
TEST_F(Iasl, DisassemblesTheMadtMcfgAndXsdt) {
  const std::string madt = disassemble(dir, "apic", tables["APIC"]);
  EXPECT_THAT(madt, HasSubstr("Local Apic Address : FEE00000"));
  EXPECT_THAT(madt, HasSubstr("Local Apic ID : 03"));
  EXPECT_THAT(madt, HasSubstr("Address : FEC00000"));
  const std::string mcfg = disassemble(dir, "mcfg", tables["MCFG"]);
  EXPECT_THAT(mcfg, HasSubstr("Base Address : 00000000E0000000"));
  EXPECT_THAT(mcfg, HasSubstr("End Bus Number : FF"));
  EXPECT_THAT(disassemble(dir, "xsdt", tables["XSDT"]), HasSubstr("ACPI Table Address   2"));
}

}  // namespace
}  // namespace ferry::test

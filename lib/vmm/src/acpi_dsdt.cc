// The DSDT's AML, from the platform: see docs/acpi.md for what each object tells the guest.
#include "ferry/acpi/aml.h"
#include "ferry/pci/ecam.h"
#include "ferry/vmm/acpi_tables.h"
#include "ferry/vmm/power_control.h"
#include "ferry/vmm/serial_16550.h"

namespace ferry::vmm {
namespace {

namespace aml = acpi::aml;

constexpr uint16_t kPciConfigPorts = 0xcf8;  // mechanism #1, decoded by the root complex
constexpr uint8_t kPciConfigPortCount = 8;

uint64_t last(const pci::AddressWindow& w) { return w.base + w.size - 1; }

// _PRT (ACPI 6.3, 6.2.13): for each wired slot and pin, the package {address: the slot in the
// high word with every function (0xFFFF), pin: 0-3 for INTA#-INTD#, source: 0, i.e. the next
// field is a GSI, GSI}. Linux then programs those IOAPIC pins level-triggered, active low.
acpi::Bytes routing_table(const std::vector<pci::IntxRoute>& routes) {
  aml::Terms entries;
  for (const pci::IntxRoute& r : routes) {
    entries.push_back(
        aml::package({aml::integer((uint64_t{r.slot} << 16) | 0xffff), aml::integer(r.pin - 1),
                      aml::integer(0), aml::integer(r.gsi)}));
  }
  return aml::package(entries);
}

acpi::Bytes host_bridge(const AcpiPlatform& p) {
  const uint64_t buses = p.ecam_size / pci::Ecam::kBytesPerBus;
  aml::Terms resources = {aml::word_bus_number(0, static_cast<uint16_t>(buses - 1)),
                          aml::io(kPciConfigPorts, kPciConfigPortCount)};
  if (p.windows.io.size) {
    resources.push_back(aml::word_io(static_cast<uint16_t>(p.windows.io.base),
                                     static_cast<uint16_t>(last(p.windows.io))));
  }
  if (p.windows.mmio32.size) {
    resources.push_back(aml::dword_memory(static_cast<uint32_t>(p.windows.mmio32.base),
                                          static_cast<uint32_t>(last(p.windows.mmio32))));
  }
  if (p.windows.mmio64.size) {
    resources.push_back(aml::qword_memory(p.windows.mmio64.base, last(p.windows.mmio64)));
  }
  aml::Terms objects = {aml::name("_HID", aml::eisa_id("PNP0A08")),
                        aml::name("_CID", aml::eisa_id("PNP0A03")),
                        aml::name("_SEG", aml::integer(0)),
                        aml::name("_BBN", aml::integer(0)),
                        aml::name("_UID", aml::integer(0)),
                        aml::name("_CRS", aml::resource_template(resources))};
  if (!p.intx.empty()) objects.push_back(aml::name("_PRT", routing_table(p.intx)));
  return aml::device("PCI0", objects);
}

// Linux uses the MCFG's ECAM only if the firmware reserves it, in the e820 map or as the
// resource of a motherboard device (arch/x86/pci/mmconfig-shared.c): this is that device.
acpi::Bytes motherboard_resources(const AcpiPlatform& p) {
  return aml::device(
      "MBRD", {aml::name("_HID", aml::eisa_id("PNP0C02")), aml::name("_UID", aml::integer(0)),
               aml::name("_CRS", aml::resource_template(
                                     {aml::memory32_fixed(static_cast<uint32_t>(p.ecam_base),
                                                          static_cast<uint32_t>(p.ecam_size))}))});
}

acpi::Bytes com1() {
  return aml::device(
      "COM1", {aml::name("_HID", aml::eisa_id("PNP0501")), aml::name("_UID", aml::integer(1)),
               aml::name("_CRS", aml::resource_template({aml::io(kCom1Port, kUartPorts),
                                                         aml::irq_no_flags(kCom1Irq)}))});
}

}  // namespace

std::vector<uint8_t> dsdt_aml(const AcpiPlatform& platform) {
  // The DSDT's top level is the root scope: _SB_ is \_SB_ (and no longer than iasl makes it).
  acpi::Bytes out =
      aml::scope("_SB_", {host_bridge(platform), motherboard_resources(platform), com1()});
  // \_S5: SLP_TYPa, SLP_TYPb (unused on a reduced platform) and two reserved zeros.
  const acpi::Bytes s5 =
      aml::name("_S5_", aml::package({aml::integer(kS5SleepType), aml::integer(0), aml::integer(0),
                                      aml::integer(0)}));
  out.insert(out.end(), s5.begin(), s5.end());
  return out;
}

}  // namespace ferry::vmm

#include "ferry/acpi/tables.h"

namespace ferry::acpi {
namespace {

constexpr size_t kRsdpV1Size = 20;  // the part the first checksum covers
constexpr size_t kRsdpChecksumOffset = 8;
constexpr size_t kRsdpExtendedChecksumOffset = 32;

constexpr uint8_t kFadtRevision = 6;
constexpr uint8_t kFadtMinorRevision = 3;
constexpr uint8_t kMadtRevision = 5;
constexpr uint8_t kMcfgRevision = 1;
constexpr uint8_t kDsdtRevision = 2;
constexpr uint8_t kXsdtRevision = 1;

constexpr uint8_t kMadtTypeLapic = 0;
constexpr uint8_t kMadtTypeIoapic = 1;
constexpr uint8_t kMadtTypeX2apic = 9;
constexpr uint32_t kMadtEnabled = 1;
constexpr unsigned kFirstX2apicId = 255;  // 0xff in a Local APIC entry means "invalid"

void put_zeros(Bytes& out, size_t count) { out.insert(out.end(), count, 0); }

}  // namespace

void put_gas(Bytes& out, const Gas& gas) {
  put(out, static_cast<uint8_t>(gas.space), 1);
  put(out, gas.bit_width, 1);
  put(out, gas.bit_offset, 1);
  put(out, gas.access_size, 1);
  put(out, gas.address, 8);
}

Bytes rsdp(uint64_t xsdt_address) {
  Bytes out;
  put_text(out, "RSD PTR ", 8);
  put(out, 0, 1);  // checksum of the first 20 bytes
  put_text(out, "FERRY", 6);
  put(out, 2, 1);  // revision: ACPI 2.0 and later
  put(out, 0, 4);  // RSDT address: none, the XSDT serves
  put(out, kRsdpSize, 4);
  put(out, xsdt_address, 8);
  put(out, 0, 1);  // extended checksum
  put_zeros(out, 3);
  out[kRsdpChecksumOffset] =
      static_cast<uint8_t>(0x100 - byte_sum(std::span(out).first(kRsdpV1Size)));
  out[kRsdpExtendedChecksumOffset] = static_cast<uint8_t>(0x100 - byte_sum(out));
  return out;
}

Bytes xsdt(std::span<const uint64_t> tables) {
  Bytes out = begin_table("XSDT", kXsdtRevision);
  for (uint64_t address : tables) put(out, address, 8);
  finish_table(out);
  return out;
}

Bytes fadt(const FadtParams& params) {
  Bytes out = begin_table("FACP", kFadtRevision);
  put(out, 0, 4);                                            // FIRMWARE_CTRL: no FACS
  put(out, params.dsdt <= UINT32_MAX ? params.dsdt : 0, 4);  // DSDT
  put_zeros(out, 109 - 44);  // the legacy fixed hardware blocks, all absent on a reduced platform
  put(out, params.boot_arch, 2);  // IAPC_BOOT_ARCH (offset 109)
  put(out, 0, 1);
  uint32_t flags = kFadtHwReducedAcpi;
  if (params.reset.address != 0) flags |= kFadtResetRegSupported;
  put(out, flags, 4);  // offset 112
  put_gas(out, params.reset);
  put(out, params.reset_value, 1);
  put(out, 0, 2);  // ARM_BOOT_ARCH
  put(out, kFadtMinorRevision, 1);
  put(out, 0, 8);  // X_FIRMWARE_CTRL
  put(out, params.dsdt, 8);
  put_zeros(out, 8 * kGasSize);  // X_PM1a_EVT_BLK .. X_GPE1_BLK: absent
  put_gas(out, params.sleep_control);
  put_gas(out, params.sleep_status);
  put_text(out, "ferry", 8, '\0');  // hypervisor vendor identity
  finish_table(out);
  return out;
}

Bytes madt(const MadtParams& params) {
  Bytes out = begin_table("APIC", kMadtRevision);
  put(out, params.lapic_address, 4);
  put(out, 0, 4);  // flags: no PCAT_COMPAT, there are no 8259s to disable
  for (unsigned id = 0; id < params.cpus; ++id) {
    if (id < kFirstX2apicId) {
      put(out, kMadtTypeLapic, 1);
      put(out, kMadtLapicSize, 1);
      put(out, id, 1);  // ACPI processor UID
      put(out, id, 1);  // APIC ID
      put(out, kMadtEnabled, 4);
    } else {
      put(out, kMadtTypeX2apic, 1);
      put(out, kMadtX2apicSize, 1);
      put(out, 0, 2);
      put(out, id, 4);  // x2APIC ID
      put(out, kMadtEnabled, 4);
      put(out, id, 4);  // ACPI processor UID
    }
  }
  put(out, kMadtTypeIoapic, 1);
  put(out, kMadtIoapicSize, 1);
  put(out, params.ioapic_id, 1);
  put(out, 0, 1);
  put(out, params.ioapic_address, 4);
  put(out, params.ioapic_gsi_base, 4);
  finish_table(out);
  return out;
}

Bytes mcfg(std::span<const McfgAllocation> allocations) {
  Bytes out = begin_table("MCFG", kMcfgRevision);
  put_zeros(out, 8);
  for (const McfgAllocation& a : allocations) {
    put(out, a.base, 8);
    put(out, a.segment, 2);
    put(out, a.start_bus, 1);
    put(out, a.end_bus, 1);
    put_zeros(out, 4);
  }
  finish_table(out);
  return out;
}

Bytes dsdt(std::span<const uint8_t> aml) {
  Bytes out = begin_table("DSDT", kDsdtRevision);
  out.insert(out.end(), aml.begin(), aml.end());
  finish_table(out);
  return out;
}

}  // namespace ferry::acpi

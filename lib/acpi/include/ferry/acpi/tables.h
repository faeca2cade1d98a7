// The fixed-layout ACPI tables (ACPI 6.3, chapter 5.2), each built whole with its length and
// checksum: the RSDP that points at the XSDT, the XSDT that lists the other tables, a
// hardware-reduced FADT, the MADT of the interrupt controllers, the MCFG of the PCI ECAM, and
// the DSDT around already encoded AML (aml.h).
#pragma once

#include <cstdint>
#include <span>

#include "ferry/acpi/sdt.h"

namespace ferry::acpi {

constexpr size_t kRsdpSize = 36;
constexpr size_t kFadtSize = 276;

// A Generic Address Structure (ACPI 5.2.3.2): where a register lives.
struct Gas {
  enum class Space : uint8_t { kSystemMemory = 0, kSystemIo = 1 };
  Space space = Space::kSystemIo;
  uint8_t bit_width = 0;
  uint8_t bit_offset = 0;
  uint8_t access_size = 0;  // 1 byte, 2 word, 3 dword, 4 qword; 0 undefined
  uint64_t address = 0;

  /// A one-byte register at I/O `port`.
  static Gas io_byte(uint16_t port) { return {Space::kSystemIo, 8, 0, 1, port}; }
};
constexpr size_t kGasSize = 12;
void put_gas(Bytes& out, const Gas& gas);

/// RSDP revision 2: no RSDT, the XSDT at `xsdt_address`; both checksums set.
Bytes rsdp(uint64_t xsdt_address);

/// The XSDT listing the tables at `tables`.
Bytes xsdt(std::span<const uint64_t> tables);

// FADT flags and IA-PC boot architecture flags this builder uses.
constexpr uint32_t kFadtResetRegSupported = 1u << 10;
constexpr uint32_t kFadtHwReducedAcpi = 1u << 20;
constexpr uint16_t kBootArchVgaNotPresent = 1u << 2;
constexpr uint16_t kBootArchCmosRtcNotPresent = 1u << 5;

struct FadtParams {
  uint64_t dsdt = 0;
  Gas sleep_control;
  Gas sleep_status;
  Gas reset;  // space kSystemIo with address 0: no reset register
  uint8_t reset_value = 0;
  uint16_t boot_arch = 0;  // IAPC_BOOT_ARCH (no 8042, no legacy devices when 0)
};
/// FADT revision 6.3 for a hardware-reduced platform: no PM1/GPE blocks, no PM timer, no FACS;
/// sleep and (if given) reset through the registers in `params`.
Bytes fadt(const FadtParams& params);

struct MadtParams {
  uint32_t lapic_address = 0;
  unsigned cpus = 0;  // APIC IDs 0 .. cpus-1, each enabled, processor UID = APIC ID
  uint8_t ioapic_id = 0;
  uint32_t ioapic_address = 0;
  uint32_t ioapic_gsi_base = 0;
};
constexpr size_t kMadtFixedSize = kHeaderSize + 8;
constexpr size_t kMadtLapicSize = 8;
constexpr size_t kMadtX2apicSize = 16;
constexpr size_t kMadtIoapicSize = 12;
/// MADT revision 5 without PCAT_COMPAT (no 8259s): a Processor Local APIC entry per CPU (a
/// Local x2APIC entry for APIC IDs 255 and up, as the spec requires) and one IOAPIC.
Bytes madt(const MadtParams& params);

struct McfgAllocation {
  uint64_t base = 0;
  uint16_t segment = 0;
  uint8_t start_bus = 0;
  uint8_t end_bus = 0;
};
/// MCFG revision 1 with the given ECAM allocations.
Bytes mcfg(std::span<const McfgAllocation> allocations);

/// DSDT revision 2 (64-bit integers) holding `aml`.
Bytes dsdt(std::span<const uint8_t> aml);

}  // namespace ferry::acpi

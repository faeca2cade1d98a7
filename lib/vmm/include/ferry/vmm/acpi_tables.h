// ferry's ACPI tables (docs/acpi.md): a hardware-reduced platform with the vCPUs' local APICs,
// ferry's IOAPIC, the PCI host bridge with its ECAM and windows, COM1, and the power registers
// of power_control.h. Written into guest RAM at kAcpiTablesBase, the RSDP first.
#pragma once

#include <cstdint>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/pci/address_window.h"
#include "ferry/pci/root_complex.h"
#include "ferry/vmm/guest_memory.h"

namespace ferry::vmm {

struct AcpiPlatform {
  unsigned vcpus = 1;
  pci::BridgeWindows windows;  // what the root complex assigns BARs from
  uint64_t ecam_base = 0;
  uint64_t ecam_size = 0;            // 1 MiB per bus
  std::vector<pci::IntxRoute> intx;  // PCI0._PRT: RootComplex::intx_routes()
};

/// The AML of the DSDT: \_SB.PCI0 (the host bridge, with _PRT when `intx` is not empty), \_SB.MBRD
/// (the ECAM, reserved as a motherboard resource), \_SB.COM1 and \_S5.
std::vector<uint8_t> dsdt_aml(const AcpiPlatform& platform);

/// Every table laid out for address `base`: the RSDP at `base`, then the XSDT, FADT, MADT, MCFG
/// and DSDT, each 16-byte aligned. Fails when they need more than `room` bytes.
Expected<std::vector<uint8_t>> build_acpi_tables(const AcpiPlatform& platform, uint64_t base,
                                                 uint64_t room);

/// Builds the tables and copies them to kAcpiTablesBase; returns the RSDP's address.
Expected<uint64_t> write_acpi_tables(const GuestMemory& memory, const AcpiPlatform& platform);

}  // namespace ferry::vmm

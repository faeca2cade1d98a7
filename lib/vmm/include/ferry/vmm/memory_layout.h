// The guest-physical address map (docs/memory-map.md): where RAM goes for a given size and
// which ranges are holes for devices.
#pragma once

#include <cstdint>
#include <vector>

#include "ferry/base/units.h"

namespace ferry::vmm {

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kLegacyHoleStart = 0xa0000;  // VGA window: unclaimed MMIO, as on a PC
constexpr uint64_t kLegacyHoleEnd = 0xc0000;
constexpr uint64_t kLowRamLimit = 3 * kGiB;  // 3-4 GiB holds the 32-bit device windows
constexpr uint64_t kHighRamStart = 4 * kGiB;
constexpr uint64_t kMinRamSize = 2 * kMiB;
constexpr uint64_t kMaxRamSize = 1024 * kGiB;

// ACPI tables, RSDP first (docs/acpi.md), in the BIOS area where Linux scans for the RSDP; the
// Linux payload's e820 map reserves it.
constexpr uint64_t kAcpiTablesBase = 0xe0000;
constexpr uint64_t kAcpiTablesSize = 0x20000;

// Platform devices in the 3-4 GiB hole.
constexpr uint64_t kIoapicAddress = 0xfec00000;
constexpr uint64_t kLapicAddress = 0xfee00000;

// The PCI host bridge (docs/pci-bus.md): a 32-bit MMIO window and ECAM at the bottom of the
// 3-4 GiB hole, an I/O port window, and a 64-bit MMIO window from pci_mmio64_base() to the end
// of the guest's physical address space.
constexpr uint64_t kPciMmio32Base = 0xc0000000;
constexpr uint64_t kPciMmio32Size = 512 * kMiB;
constexpr uint64_t kPciEcamBase = 0xe0000000;
constexpr uint64_t kPciEcamSize = 256 * kMiB;  // 256 buses of 1 MiB; functions sit on bus 0 only
// What e820 reserves of the ECAM: bus 0 and the buses of up to 31 root ports. ACPI (MCFG, the bus
// range, the motherboard resource) describes only the buses firmware numbered: with 256 buses
// described Linux probes buses 1-255 slot by slot for peer bridges (about 8000 config reads, each
// an exit: 0.9 s of boot in the lab).
constexpr uint64_t kPciEcamReservedSize = 32 * kMiB;
constexpr uint64_t kPciIoBase = 0xc000;
constexpr uint64_t kPciIoSize = 0x4000;
constexpr uint64_t kPciMmio64Alignment = kGiB;
static_assert(kPciMmio32Base >= kLowRamLimit && kPciMmio32Base + kPciMmio32Size <= kPciEcamBase);
static_assert(kPciEcamBase + kPciEcamSize <= kIoapicAddress);

// A run of guest RAM and where it lives in the single host allocation.
struct RamRange {
  uint64_t gpa;
  uint64_t size;
  uint64_t host_offset;
};

// RAM for `size` bytes: [0, 640K), [768K, min(size, 3G)), and the rest from 4 GiB up. The legacy
// hole is carved out of the low RAM, so the guest gets size - 128 KiB. Host offsets keep low RAM
// at offset == gpa and put high RAM right after it.
std::vector<RamRange> ram_ranges(uint64_t size);

// One past the highest RAM address (where a 64-bit device window can start).
uint64_t ram_top(uint64_t size);

// Where the 64-bit PCI window starts: 4 GiB or the first GiB boundary above RAM, the higher.
uint64_t pci_mmio64_base(uint64_t size);

}  // namespace ferry::vmm

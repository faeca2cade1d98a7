// The CPUID table each vCPU sees: the host's supported leaves with this vCPU's topology.
#pragma once

#include <span>
#include <vector>

#include "ferry/accel/registers.h"

namespace ferry::vmm {

/// Sets the initial APIC ID to `index` (leaf 1, and x2APIC leaves 0xb/0x1f), marks the CPU as
/// running under a hypervisor, and passes the rest through.
std::vector<accel::CpuidEntry> vcpu_cpuid(std::span<const accel::CpuidEntry> supported,
                                          unsigned index);

/// Whether the table offers 1 GiB pages (CPUID 0x80000001 EDX bit 26).
bool has_gib_pages(std::span<const accel::CpuidEntry> table);

/// The guest's physical address width (CPUID 0x80000008 EAX bits 7:0); 36 without the leaf.
unsigned physical_address_bits(std::span<const accel::CpuidEntry> table);

}  // namespace ferry::vmm

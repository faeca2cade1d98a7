// The host's CPUID leaves as a table, for a guest on MSHV (which has no "supported CPUID" query).
#pragma once

#include <vector>

#include "ferry/accel/registers.h"
#include "ferry/mshv/mshv_driver.h"

namespace ferry::mshv {

constexpr size_t kMaxCpuidEntries = 256;

/// Every basic and extended leaf the host reports (subleaves where the leaf has them), without
/// what a child partition cannot offer: VMX and SMX are cleared; the hypervisor-present and
/// x2APIC bits are set. Hypervisor leaves (0x40000000...) are the hypervisor's own.
std::vector<accel::CpuidEntry> host_cpuid_table(MshvDriver& driver);

}  // namespace ferry::mshv

#include "ferry/vmm/cpuid.h"

namespace ferry::vmm {

std::vector<accel::CpuidEntry> vcpu_cpuid(std::span<const accel::CpuidEntry> supported,
                                          unsigned index) {
  std::vector<accel::CpuidEntry> table(supported.begin(), supported.end());
  for (accel::CpuidEntry& e : table) {
    switch (e.function) {
      case 0x1:
        e.ebx = (e.ebx & 0x00ffffff) | (index << 24);
        e.ecx |= 1u << 31;  // hypervisor present
        break;
      case 0xb:
      case 0x1f:
        e.edx = index;  // x2APIC ID
        break;
      default:
        break;
    }
  }
  return table;
}

bool has_gib_pages(std::span<const accel::CpuidEntry> table) {
  for (const accel::CpuidEntry& e : table) {
    if (e.function == 0x80000001) return (e.edx >> 26) & 1;
  }
  return false;
}

unsigned physical_address_bits(std::span<const accel::CpuidEntry> table) {
  for (const accel::CpuidEntry& e : table) {
    if (e.function == 0x80000008 && (e.eax & 0xff) != 0) return e.eax & 0xff;
  }
  return 36;  // what a CPU without the leaf has (PAE)
}

}  // namespace ferry::vmm

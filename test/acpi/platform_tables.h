// ferry's table image taken apart the way a guest does: from the RSDP through the XSDT to each
// table, and from the FADT to the DSDT.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ferry/vmm/acpi_tables.h"

namespace ferry::test {

constexpr uint64_t kImageBase = 0xe0000;

// A platform like a 1 GiB VM with `vcpus` vCPUs and 40 physical address bits, two assigned
// devices' INTx wired (00:01.0 INTA# to GSI 16, 00:03.0 INTB# to GSI 17).
vmm::AcpiPlatform test_platform(unsigned vcpus);

uint64_t read_le(const std::vector<uint8_t>& b, uint64_t offset, unsigned size);

// Each table of `image` (built for kImageBase) by signature, "RSDP" for the RSDP; an empty map
// when a pointer leads outside the image.
std::map<std::string, std::vector<uint8_t>> tables_of(const std::vector<uint8_t>& image);

}  // namespace ferry::test

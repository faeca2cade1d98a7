#include "platform_tables.h"

#include "ferry/vmm/memory_layout.h"
#include "ferry/vmm/pci_platform.h"

namespace ferry::test {

vmm::AcpiPlatform test_platform(unsigned vcpus) {
  return {.vcpus = vcpus,
          .windows = vmm::pci_windows(1ull << 30, 40),
          .ecam_base = vmm::kPciEcamBase,
          .ecam_size = vmm::kPciEcamSize,
          // Two assigned devices with INTx, on IOAPIC pins 16 and 17 (the second's INTB#).
          .intx = {{.slot = 1, .pin = 1, .gsi = 16}, {.slot = 3, .pin = 2, .gsi = 17}}};
}

uint64_t read_le(const std::vector<uint8_t>& b, uint64_t offset, unsigned size) {
  uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= uint64_t{b.at(offset + i)} << (8 * i);
  return v;
}

std::map<std::string, std::vector<uint8_t>> tables_of(const std::vector<uint8_t>& image) {
  std::map<std::string, std::vector<uint8_t>> tables;
  auto take = [&](const std::string& name, uint64_t address, uint64_t length) {
    if (address < kImageBase || address - kImageBase + length > image.size()) return false;
    const auto begin = image.begin() + static_cast<ptrdiff_t>(address - kImageBase);
    tables[name] = std::vector<uint8_t>(begin, begin + static_cast<ptrdiff_t>(length));
    return true;
  };
  auto take_table = [&](uint64_t address) -> std::string {
    if (address < kImageBase || address - kImageBase + 8 > image.size()) return "";
    const uint64_t at = address - kImageBase;
    const std::string sig(image.begin() + static_cast<ptrdiff_t>(at),
                          image.begin() + static_cast<ptrdiff_t>(at) + 4);
    return take(sig, address, read_le(image, at + 4, 4)) ? sig : "";
  };
  if (!take("RSDP", kImageBase, read_le(image, 20, 4))) return {};
  if (take_table(read_le(image, 24, 8)) != "XSDT") return {};
  const std::vector<uint8_t> xsdt = tables["XSDT"];
  for (size_t at = 36; at + 8 <= xsdt.size(); at += 8) {
    if (take_table(read_le(xsdt, at, 8)).empty()) return {};
  }
  if (!tables.count("FACP") || take_table(read_le(tables["FACP"], 140, 8)) != "DSDT") return {};
  return tables;
}

}  // namespace ferry::test

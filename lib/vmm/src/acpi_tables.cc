#include "ferry/vmm/acpi_tables.h"

#include <algorithm>

#include "ferry/acpi/tables.h"
#include "ferry/base/units.h"
#include "ferry/pci/ecam.h"
#include "ferry/vmm/memory_layout.h"
#include "ferry/vmm/power_control.h"

namespace ferry::vmm {
namespace {

constexpr uint64_t kTableAlignment = 16;
constexpr uint8_t kIoapicId = 0;  // what ferry's IOAPIC reports in its ID register

// Appends `table` to `image` at the next aligned offset and returns its guest address.
uint64_t place(std::vector<uint8_t>& image, uint64_t base, const acpi::Bytes& table) {
  image.resize((image.size() + kTableAlignment - 1) / kTableAlignment * kTableAlignment);
  const uint64_t address = base + image.size();
  image.insert(image.end(), table.begin(), table.end());
  return address;
}

}  // namespace

Expected<std::vector<uint8_t>> build_acpi_tables(const AcpiPlatform& platform, uint64_t base,
                                                 uint64_t room) {
  if (platform.ecam_size < pci::Ecam::kBytesPerBus || platform.ecam_size > 256 * kMiB ||
      platform.ecam_base + platform.ecam_size > 4 * kGiB) {
    return fail(Errc::kInternal, "ACPI: the ECAM {:#x}+{:#x} is not 1-256 buses below 4 GiB",
                platform.ecam_base, platform.ecam_size);
  }
  const acpi::Bytes dsdt = acpi::dsdt(dsdt_aml(platform));
  const acpi::McfgAllocation ecam{
      .base = platform.ecam_base,
      .segment = 0,
      .start_bus = 0,
      .end_bus = static_cast<uint8_t>(platform.ecam_size / pci::Ecam::kBytesPerBus - 1)};
  const acpi::Bytes mcfg = acpi::mcfg({&ecam, 1});
  const acpi::Bytes madt = acpi::madt({.lapic_address = kLapicAddress,
                                       .cpus = platform.vcpus,
                                       .ioapic_id = kIoapicId,
                                       .ioapic_address = kIoapicAddress,
                                       .ioapic_gsi_base = 0});

  // The RSDP comes first (where the guest looks), the XSDT next; the XSDT needs the others'
  // addresses, so lay them out behind a placeholder of its final size.
  std::vector<uint8_t> image = acpi::rsdp(0);
  const uint64_t xsdt_size = acpi::kHeaderSize + 3 * sizeof(uint64_t);
  const uint64_t xsdt_address = place(image, base, acpi::Bytes(xsdt_size));
  const uint64_t dsdt_address = place(image, base, dsdt);
  const acpi::Bytes fadt =
      acpi::fadt({.dsdt = dsdt_address,
                  .sleep_control = acpi::Gas::io_byte(kSleepControlPort),
                  .sleep_status = acpi::Gas::io_byte(kSleepStatusPort),
                  .reset = acpi::Gas::io_byte(kResetPort),
                  .reset_value = kResetValue,
                  .boot_arch = acpi::kBootArchVgaNotPresent | acpi::kBootArchCmosRtcNotPresent});
  const uint64_t tables[] = {place(image, base, fadt), place(image, base, madt),
                             place(image, base, mcfg)};
  const acpi::Bytes xsdt = acpi::xsdt(tables);
  const acpi::Bytes rsdp = acpi::rsdp(xsdt_address);
  std::copy(xsdt.begin(), xsdt.end(), image.begin() + static_cast<ptrdiff_t>(xsdt_address - base));
  std::copy(rsdp.begin(), rsdp.end(), image.begin());
  if (image.size() > room) {
    return fail(Errc::kInvalidArgument,
                "the ACPI tables for {} vCPUs need {} bytes, more than the {} reserved for them "
                "at {:#x}; use fewer vCPUs",
                platform.vcpus, image.size(), room, base);
  }
  return image;
}

Expected<uint64_t> write_acpi_tables(const GuestMemory& memory, const AcpiPlatform& platform) {
  FERRY_ASSIGN(std::vector<uint8_t> image,
               build_acpi_tables(platform, kAcpiTablesBase, kAcpiTablesSize));
  if (auto written = memory.write(kAcpiTablesBase, image); !written) {
    return fail(written.error().context("writing the ACPI tables"));
  }
  return kAcpiTablesBase;
}

}  // namespace ferry::vmm

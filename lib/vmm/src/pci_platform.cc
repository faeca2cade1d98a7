#include "ferry/vmm/pci_platform.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "ferry/guests/pcitest.h"
#include "ferry/guests/testdev.h"
#include "ferry/pci/pci_test_device.h"
#include "ferry/vmm/memory_layout.h"

namespace ferry::vmm {

// The guests hard-code the layout (they have no ACPI tables to read it from).
static_assert(kPciMmio32Base == FERRY_PCI_MMIO32_BASE && kPciMmio32Size == FERRY_PCI_MMIO32_SIZE);
static_assert(kPciEcamBase == FERRY_PCI_ECAM_BASE);
static_assert(kPciIoBase == FERRY_PCI_IO_BASE && kPciIoSize == FERRY_PCI_IO_SIZE);
static_assert(kPciEcamBase + kPciEcamSize <= FERRY_TESTDEV_BASE);

pci::BridgeWindows pci_windows(uint64_t ram_size, unsigned physical_address_bits) {
  const uint64_t base = pci_mmio64_base(ram_size);
  const uint64_t end =
      physical_address_bits >= 64 ? ~uint64_t{0} : uint64_t{1} << physical_address_bits;
  return {.io = {kPciIoBase, kPciIoSize},
          .mmio32 = {kPciMmio32Base, kPciMmio32Size},
          .mmio64 = {base, end > base ? end - base : 0}};
}

std::string mmio64_end(unsigned physical_address_bits, const IommuConstraints& iommu) {
  const unsigned iommu_bits = iommu.address_bits.value_or(64);
  if (iommu_bits < physical_address_bits) {
    return fmt::format(
        "at 2^{}, where the host IOMMU's {}-bit DMA addresses end (the vCPU has {} physical "
        "address bits)",
        iommu_bits, iommu_bits, physical_address_bits);
  }
  return fmt::format("at 2^{}, where the vCPU's {} physical address bits end",
                     physical_address_bits, physical_address_bits);
}

Expected<std::unique_ptr<pci::RootComplex>> create_pci(const VmConfig& config,
                                                       unsigned physical_address_bits,
                                                       irq::MsiRouteTable& routes, bus::Bus& mmio,
                                                       bus::Bus& pio,
                                                       const HostDeviceMaker& host_device,
                                                       const IommuConstraints& iommu) {
  // BARs stay where the IOMMU can map them too (peer-to-peer DMA): below its address width.
  const unsigned bits = std::min(physical_address_bits, iommu.address_bits.value_or(64));
  const pci::RootComplexLayout layout{.windows = pci_windows(config.memory_size, bits),
                                      .ecam_base = kPciEcamBase,
                                      .ecam_size = kPciEcamSize,
                                      .excluded = iommu.reserved,
                                      .mmio64_end = mmio64_end(physical_address_bits, iommu)};
  FERRY_ASSIGN(auto root, pci::RootComplex::create(mmio, pio, layout));
  const bool assigns =
      std::any_of(config.devices.begin(), config.devices.end(),
                  [](const DeviceConfig& d) { return d.type == DeviceType::kVfio; });
  // Where assigned devices' BARs can go is worth a line: a GPU's BAR may not fit.
  spdlog::log(assigns ? spdlog::level::info : spdlog::level::debug,
              "PCI: I/O {}, 32-bit MMIO {}, 64-bit MMIO {}; it ends {}",
              pci::describe(layout.windows.io), pci::describe(layout.windows.mmio32),
              pci::describe(layout.windows.mmio64), layout.mmio64_end);
  for (size_t i = 0; i < config.devices.size(); ++i) {
    const DeviceConfig& d = config.devices[i];
    const bool vfio = d.type == DeviceType::kVfio;
    const std::string what = vfio ? fmt::format("devices[{}] (vfio {})", i, d.host_bdf)
                                  : fmt::format("devices[{}] (pci-test)", i);
    Expected<std::shared_ptr<pci::Endpoint>> device =
        fail(Errc::kUnsupported, "host devices cannot be assigned here");
    if (!vfio) {
      device = pci::PciTestDevice::create(root->bar_spaces(), routes);
    } else if (host_device) {
      device = host_device(i, root->bar_spaces());
    }
    if (!device) return fail(device.error().context(what));
    if (d.root_port) {
      auto placed = root->add_behind_port(*device, d.slot);
      if (!placed) return fail(placed.error().context(what));
      spdlog::debug("{}: at {:02x}:00.0, behind the root port at 00:{:02x}.0", what, placed->bus,
                    placed->slot);
    } else {
      auto slot = root->add(*device, d.slot);
      if (!slot) return fail(slot.error().context(what));
      spdlog::debug("{}: at 00:{:02x}.0", what, *slot);
    }
  }
  return root;
}

}  // namespace ferry::vmm

// The guest's PCI bus as the Machine builds it (docs/pci-bus.md): the host bridge's windows
// from the memory map, the root complex on the VM's buses, and the spec's PCI devices on it.
#pragma once

#include <functional>

#include "ferry/vmm/host_devices.h"

#include <cstdint>
#include <memory>
#include <string>

#include "ferry/bus/bus.h"
#include "ferry/irq/msi_route_table.h"
#include "ferry/pci/root_complex.h"
#include "ferry/vmm/vm_config.h"

namespace ferry::vmm {

/// The windows for a VM with `ram_size` bytes of RAM whose vCPUs have `physical_address_bits`:
/// the 64-bit window runs from pci_mmio64_base() to 2^bits (empty if RAM reaches that far).
pci::BridgeWindows pci_windows(uint64_t ram_size, unsigned physical_address_bits);

/// Where and why the 64-bit window ends: at 2^bits of the vCPU, or of the narrower IOMMU.
std::string mmio64_end(unsigned physical_address_bits, const IommuConstraints& iommu);

/// Makes the function for host device entry devices[entry], its BARs on `spaces`.
using HostDeviceMaker =
    std::function<Expected<std::shared_ptr<pci::Endpoint>>(size_t entry, pci::BarSpaces spaces)>;

/// The root complex on `mmio` and `pio`, with every device of `config.devices` on it and its
/// BARs assigned; `host_device` makes the vfio ones, and `iommu` keeps every BAR inside the
/// assigned devices' IOMMU limits. Errors name the spec entry (devices[N]).
Expected<std::unique_ptr<pci::RootComplex>> create_pci(const VmConfig& config,
                                                       unsigned physical_address_bits,
                                                       irq::MsiRouteTable& routes, bus::Bus& mmio,
                                                       bus::Bus& pio,
                                                       const HostDeviceMaker& host_device = {},
                                                       const IommuConstraints& iommu = {});

}  // namespace ferry::vmm

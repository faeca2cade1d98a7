// The individual checks of a verdict (verdict.h), one function each.
#pragma once

#include "ferry/pci/host/verdict.h"

namespace ferry::pci::host {

Check check_iommu(const HostDevice& device, const Inventory& inventory);
Check check_header(const HostDevice& device);
Check check_driver(const HostDevice& device, const Inventory& inventory);
Check check_group(const HostDevice& device, const Inventory& inventory);
Check check_vfio_iommu(const Inventory& inventory);
Check check_reset(const HostDevice& device);
Check check_bars(const HostDevice& device, const BarPlan& plan, const IommuLimits& limits,
                 const GuestWindows& windows);
Check check_msix(const HostDevice& device);
/// GPUs only: the functions in its slot, the host's boot display, its apertures.
Check check_gpu(const HostDevice& device, const Inventory& inventory, const BarPlan& plan);

/// The IOMMU limits that apply to `device`: its group's reserved regions and its unit's width.
IommuLimits iommu_limits(const HostDevice& device, const Inventory& inventory);

}  // namespace ferry::pci::host

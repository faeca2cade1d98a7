// The line `ferry run` shows while guest RAM is pinned for assigned devices' DMA (populated on
// several threads, then mapped into the IOMMU), for guests of 4 GiB and more: on a terminal it
// is rewritten in place, one line per step; elsewhere one line at the end of each step says
// how long it took.
#pragma once

#include "ferry/vmm/guest_memory.h"

namespace ferry::cli {

/// An observer for vmm::MachineOptions::dma_progress that writes to stderr.
vmm::PopulateObserver dma_progress_line();

}  // namespace ferry::cli

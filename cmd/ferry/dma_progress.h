// The line `ferry run` shows while guest RAM is populated for assigned devices' DMA, for
// guests of 4 GiB and more: on a terminal it is rewritten in place; elsewhere one line at the
// end says how long it took.
#pragma once

#include "ferry/vmm/guest_memory.h"

namespace ferry::cli {

/// An observer for vmm::MachineOptions::dma_progress that writes to stderr.
vmm::PopulateObserver dma_progress_line();

}  // namespace ferry::cli

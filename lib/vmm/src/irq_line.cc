#include "ferry/vmm/irq_line.h"

#include <spdlog/spdlog.h>

namespace ferry::vmm {

void VmIrqLine::set_level(bool high) {
  if (auto set = vm_.set_irq_line(gsi_, high); !set) {
    spdlog::warn("interrupt pin {}: {}", gsi_, set.error().message());
  }
}

}  // namespace ferry::vmm

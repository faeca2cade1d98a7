#include "ferry/vmm/exit_device.h"

namespace ferry::vmm {

void ExitDevice::write_register(uint64_t offset, unsigned, uint64_t value) {
  if (offset == 0) on_exit_(static_cast<uint8_t>(value));
}

}  // namespace ferry::vmm

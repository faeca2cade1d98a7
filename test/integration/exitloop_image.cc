#include "exitloop_image.h"

#include <cstring>

#include "ferry/vmm/builtin_payloads.h"

namespace ferry::test {

std::string write_exitloop(const TempDir& dir, uint32_t pio_exits, uint32_t mmio_exits) {
  const vmm::BuiltinPayload* exitloop = vmm::find_builtin_payload("exitloop");
  std::string image(exitloop->image.begin(), exitloop->image.end());
  std::memcpy(&image[kExitloopPioCountOffset], &pio_exits, sizeof pio_exits);
  std::memcpy(&image[kExitloopMmioCountOffset], &mmio_exits, sizeof mmio_exits);
  return dir.write("exitloop.bin", image);
}

}  // namespace ferry::test

// The test-exit port: a one-byte write ends the VM with that byte as ferry's exit status.
// Same port as QEMU's isa-debug-exit, but the status is the byte itself.
#pragma once

#include <cstdint>
#include <functional>

#include "ferry/bus/bus_device.h"

namespace ferry::vmm {

class ExitDevice final : public bus::RegisterDevice<ExitDevice> {
 public:
  using OnExit = std::function<void(uint8_t code)>;
  explicit ExitDevice(OnExit on_exit) : on_exit_(std::move(on_exit)) {}

  uint64_t read_register(uint64_t, unsigned) { return ~uint64_t{0}; }
  void write_register(uint64_t offset, unsigned size, uint64_t value);

 private:
  OnExit on_exit_;
};

}  // namespace ferry::vmm

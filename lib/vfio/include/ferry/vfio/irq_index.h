// The MSI or MSI-X vectors of an assigned device as VFIO drives them, and an irq::VectorTrigger
// per vector for lib/irq. The first vector attached enables the index with all its vectors at
// once (those not yet live get no eventfd), so later vectors never resize it: before Linux 6.5,
// or with VFIO_IRQ_INFO_NORESIZE, growing an enabled index means disabling every vector.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "ferry/irq/vector_trigger.h"
#include "ferry/vfio/device.h"

namespace ferry::vfio {

class IrqIndexState {
 public:
  /// `before_enable` runs before VFIO enables the index (INTx must be off first).
  IrqIndexState(Device& device, IrqIndex index, unsigned vectors,
                std::function<void()> before_enable = {})
      : device_(device),
        index_(index),
        fds_(vectors, -1),
        before_enable_(std::move(before_enable)) {}

  /// VFIO signals `eventfd` for `vector` from now on.
  Expected<void> attach(unsigned vector, int eventfd);
  /// VFIO stops signalling for `vector`; the last one disables the index.
  Expected<void> detach(unsigned vector);
  /// Disables the index (teardown), whatever is attached.
  void disable();
  /// The trigger lib/irq drives for `vector`.
  std::unique_ptr<irq::VectorTrigger> trigger(unsigned vector);

 private:
  Device& device_;
  const IrqIndex index_;
  std::mutex mutex_;          // a leaf
  std::vector<int32_t> fds_;  // per vector: the attached eventfd or -1
  bool enabled_ = false;
  std::function<void()> before_enable_;
};

}  // namespace ferry::vfio

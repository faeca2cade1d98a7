// The MSI or MSI-X vectors of an assigned device as VFIO drives them, and an irq::VectorTrigger
// per vector for lib/irq. The index is enabled with all its vectors at once (those not yet live
// get no eventfd), so later vectors never resize it: before Linux 6.5, or with
// VFIO_IRQ_INFO_NORESIZE, growing an enabled index means disabling every vector.
//
// The device's own enable bit follows the guest's (set_guest_enabled), not the first unmask:
// devices act on it. QEMU's NVMe, for one, claims a completion queue's vector only if MSI-X is on
// when the queue is created, and Linux creates the admin queue after enabling MSI-X with every
// vector masked and before unmasking any; enabled late, the admin queue never interrupts.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
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
  /// VFIO stops signalling for `vector`; the last one disables the index unless the guest has
  /// it enabled.
  Expected<void> detach(unsigned vector);
  /// The guest set or cleared the capability's enable bit: the device's follows. Enabling passes
  /// every attached eventfd; disabling keeps them, for the next enable.
  Expected<void> set_guest_enabled(bool enabled);
  /// Disables the index (teardown), whatever is attached.
  void disable();
  /// The trigger lib/irq drives for `vector`.
  std::unique_ptr<irq::VectorTrigger> trigger(unsigned vector);

 private:
  Expected<void> enable_with(std::span<const int32_t> fds);  // mutex_ held

  Device& device_;
  const IrqIndex index_;
  std::mutex mutex_;            // a leaf
  std::vector<int32_t> fds_;    // per vector: the attached eventfd or -1
  bool enabled_ = false;        // on in VFIO
  bool guest_enabled_ = false;  // on in the guest's view of the capability
  std::function<void()> before_enable_;
};

}  // namespace ferry::vfio

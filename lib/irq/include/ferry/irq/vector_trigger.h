// The device side of an MSI vector: what makes the device signal the vector's eventfd. For an
// assigned device that is VFIO_DEVICE_SET_IRQS for the vector; an emulated device has none (the
// VMM signals through MsiVector::signal()).
#pragma once

#include "ferry/base/error.h"

namespace ferry::irq {

class VectorTrigger {
 public:
  virtual ~VectorTrigger() = default;
  /// The device starts signalling `eventfd` for this vector.
  virtual Expected<void> attach(int eventfd) = 0;
  /// The device stops signalling it (before the eventfd is closed).
  virtual Expected<void> detach() = 0;
};

}  // namespace ferry::irq

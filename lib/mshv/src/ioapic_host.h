// What the userspace IOAPIC needs from its partition: a place for its routes in the partition's
// one routing table, and irqfds for its pins.
#pragma once

#include <cstdint>
#include <span>

#include "ferry/accel/vm.h"
#include "ferry/base/error.h"

namespace ferry::mshv {

class IoapicHost {
 public:
  virtual ~IoapicHost() = default;
  /// Replaces the routes of GSIs 0-23 and commits the whole table.
  virtual Expected<void> set_pin_routes(std::span<const accel::MsiRoute> routes) = 0;
  /// Assigns `eventfd` as the irqfd of pin GSI `gsi`.
  virtual Expected<void> assign_pin_irqfd(int eventfd, uint32_t gsi) = 0;
};

}  // namespace ferry::mshv

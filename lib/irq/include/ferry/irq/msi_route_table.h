// The VM's MSI routing table. Both accelerators replace the whole table on each update, so one
// owner holds every route and commits them together. GSIs 0-23 belong to the IOAPIC's pins
// (claim()); devices' MSIs get GSIs from 24 up (allocate()).
// Lock order: callers may hold their own device lock; mutex_ is a leaf.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>

#include "ferry/accel/vm.h"
#include "ferry/base/error.h"

namespace ferry::irq {

constexpr uint32_t kFirstMsiGsi = 24;
constexpr uint32_t kGsiLimit = 4096;  // KVM's routing table size and MSHV_MAX_GUEST_IRQS

class MsiRouteTable {
 public:
  explicit MsiRouteTable(accel::Vm& vm) : vm_(vm) {}

  /// Reserves the lowest free GSI from kFirstMsiGsi up; it has no route until set_route().
  Expected<uint32_t> allocate();
  /// Reserves one particular GSI below kFirstMsiGsi (an IOAPIC pin).
  Expected<void> claim(uint32_t gsi);
  /// Gives `gsi` a route and commits the table when the route changed.
  Expected<void> set_route(uint32_t gsi, uint64_t address, uint32_t data);
  /// Drops the route and frees the GSI, committing the table without it.
  Expected<void> release(uint32_t gsi);

 private:
  Expected<void> commit();  // caller holds mutex_

  accel::Vm& vm_;
  std::mutex mutex_;
  std::map<uint32_t, std::optional<accel::MsiRoute>> gsis_;  // allocated GSIs and their routes
};

}  // namespace ferry::irq

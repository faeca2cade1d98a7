// The VM's MSI routing table. Both accelerators replace the whole table on each update, so one
// owner holds every route, stages changes, and pushes them together on commit(): a burst of N
// vector changes costs one push, not N (MsiBatch closes a burst). GSIs 0-23 belong to the
// IOAPIC's pins (claim()); MSI vectors get GSIs from 24 up (allocate()) while they are live.
// The table also carries the accelerator's Ordering, which MsiBatch follows.
// Lock order: callers may hold their own device lock; mutex_ is a leaf.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>

#include "ferry/accel/vm.h"
#include "ferry/base/error.h"
#include "ferry/irq/ordering.h"

namespace ferry::irq {

class EventLoop;

constexpr uint32_t kFirstMsiGsi = 24;
constexpr uint32_t kGsiLimit = 4096;  // KVM's routing table size and MSHV_MAX_GUEST_IRQS

class MsiRouteTable {
 public:
  /// With `loop`, masked vectors that have a device trigger are watched there (event_loop.h).
  explicit MsiRouteTable(accel::Vm& vm, EventLoop* loop = nullptr)
      : vm_(vm), ordering_(ordering_for(vm.irqfd_pairing())), loop_(loop) {}

  accel::Vm& vm() { return vm_; }
  const Ordering& ordering() const { return ordering_; }
  EventLoop* event_loop() const { return loop_; }

  /// Reserves the lowest free GSI from kFirstMsiGsi up; it has no route until stage().
  Expected<uint32_t> allocate();
  /// Reserves one particular GSI below kFirstMsiGsi (an IOAPIC pin).
  Expected<void> claim(uint32_t gsi);
  /// Gives a reserved `gsi` a route, in force from the next commit().
  Expected<void> stage(uint32_t gsi, uint64_t address, uint32_t data);
  /// Takes `gsi`'s route out at the next commit(); the GSI stays reserved.
  void unstage(uint32_t gsi);
  /// Takes the route out at the next commit() and frees the GSI.
  void release(uint32_t gsi);
  /// Pushes the whole table when anything changed since the last push. On failure the routes
  /// added or changed since then are dropped from the stage (their owners retry); removals stay.
  Expected<void> commit();
  /// Whether the hypervisor has this route for `gsi` now.
  bool committed(uint32_t gsi, uint64_t address, uint32_t data) const;

  struct Stats {
    uint64_t commits = 0;         // set_msi_routes calls
    uint64_t entries_pushed = 0;  // routes in them, summed
  };
  Stats stats() const;

 private:
  bool matches_committed() const;  // caller holds mutex_

  accel::Vm& vm_;
  const Ordering& ordering_;
  EventLoop* const loop_;
  mutable std::mutex mutex_;                                 // guards everything below
  std::map<uint32_t, std::optional<accel::MsiRoute>> gsis_;  // reserved GSIs, staged routes
  std::map<uint32_t, accel::MsiRoute> committed_;            // what the hypervisor has
  bool dirty_ = false;
  Stats stats_;
};

}  // namespace ferry::irq

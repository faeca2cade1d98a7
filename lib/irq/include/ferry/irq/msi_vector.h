// One MSI vector for its whole life: its eventfd, its GSI and route while it is live, its irqfd,
// the device-side trigger, the mask and the pending (PBA) bit. A vector is live when unmasked: it
// then holds a GSI, its route is committed and its irqfd assigned. Masked, it holds no GSI, so
// 2048 vectors fit the 4096 GSIs as long as the guest unmasks fewer than that.
//
// While a vector with a device trigger is masked its irqfd is deassigned, so the kernel no longer
// consumes what the device signals; with an EventLoop on the table the eventfd is watched then,
// and a signal sets the pending bit (the count is taken off the eventfd and re-sent once at
// unmask).
//
// Changes are staged into an MsiBatch and reach the hypervisor when the batch commits, in the
// accelerator's order (ordering.h). The owner serializes calls (its device lock) and keeps that
// lock across the batch. Destruction tears the vector down in the one safe order: deassign the
// irqfd, commit the table without the route, detach the trigger, close the eventfd.
//
// A message that is not an interrupt (msi_message.h) never goes live, masked or not: raised
// while unmasked it is dropped (kDropped), and counted in dropped().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "ferry/base/event_fd.h"
#include "ferry/irq/msi_route_table.h"
#include "ferry/irq/vector_trigger.h"

namespace ferry::irq {

class MsiBatch;

class MsiVector {
 public:
  enum class Signal : uint8_t { kSent, kPending, kDropped, kFailed };

  /// `trigger` is the device side (null for an emulated device, which calls signal()); with
  /// `pin_gsi` the vector uses that claimed GSI instead of allocating one.
  explicit MsiVector(MsiRouteTable& table, std::unique_ptr<VectorTrigger> trigger = nullptr,
                     std::optional<uint32_t> pin_gsi = std::nullopt);
  ~MsiVector();
  MsiVector(const MsiVector&) = delete;
  MsiVector& operator=(const MsiVector&) = delete;

  /// New address/data; a live vector is retargeted when the batch commits.
  void set_message(MsiBatch& batch, uint64_t address, uint32_t data);
  /// Masks (the vector goes down) or unmasks (it goes live; what is pending is sent).
  void set_masked(MsiBatch& batch, bool masked);

  /// The emulated device raises the vector: sent when live, dropped when unmasked with a message
  /// that is not an interrupt, else (masked) the pending bit is set.
  Signal signal();
  bool pending() const { return pending_.load(std::memory_order_acquire); }
  bool live() const { return irqfd_assigned_; }
  std::optional<uint32_t> gsi() const { return gsi_; }
  /// Messages sent, pending ones sent at unmask included.
  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  /// Raises dropped because the unmasked message is not an interrupt.
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  friend class MsiBatch;

  bool wants_live() const { return !masked_ && deliverable_; }
  // MsiBatch's phases, in its order.
  Expected<void> take_down_if_changed(accel::Vm& vm);
  Expected<void> stage_route();
  Expected<void> attach_trigger();
  Expected<void> assign_irqfd(accel::Vm& vm);
  void send_pending();
  void watch();
  void stop_watching();
  void take_signals_as_pending();  // the device's signals on the unwatched eventfd
  void tear_down();

  MsiRouteTable& table_;
  const std::unique_ptr<VectorTrigger> trigger_;
  const std::optional<uint32_t> pin_gsi_;
  uint64_t address_ = 0;
  uint32_t data_ = 0;
  bool deliverable_ = false;  // msi_deliverable(address_, data_)
  bool masked_ = true;
  std::atomic<bool> pending_{false};  // set by the event loop's thread too
  bool in_batch_ = false;
  bool closing_ = false;
  bool watched_ = false;            // on the table's event loop
  std::optional<EventFd> eventfd_;  // made when first live, kept to the end
  std::optional<uint32_t> gsi_;     // while a route is staged or committed
  bool trigger_attached_ = false;
  bool irqfd_assigned_ = false;
  uint64_t assigned_address_ = 0;  // the route the irqfd was assigned with
  uint32_t assigned_data_ = 0;
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace ferry::irq

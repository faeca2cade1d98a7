#include "ferry/irq/msi_vector.h"

#include <spdlog/spdlog.h>

#include "ferry/irq/event_loop.h"
#include "ferry/irq/msi_batch.h"
#include "ferry/irq/msi_message.h"

namespace ferry::irq {

MsiVector::MsiVector(MsiRouteTable& table, std::unique_ptr<VectorTrigger> trigger,
                     std::optional<uint32_t> pin_gsi)
    : table_(table), trigger_(std::move(trigger)), pin_gsi_(pin_gsi) {}

MsiVector::~MsiVector() { tear_down(); }

void MsiVector::set_message(MsiBatch& batch, uint64_t address, uint32_t data) {
  std::string why;
  deliverable_ = msi_deliverable(address, data, &why);
  if (!deliverable_) spdlog::debug("MSI {:#x}/{:#x} not routed: {}", address, data, why);
  address_ = address;
  data_ = data;
  batch.add(*this);
}

void MsiVector::set_masked(MsiBatch& batch, bool masked) {
  masked_ = masked;
  batch.add(*this);
}

MsiVector::Signal MsiVector::signal() {
  if (!masked_ && !deliverable_) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return Signal::kDropped;
  }
  if (!irqfd_assigned_) {
    pending_.store(true, std::memory_order_release);
    return Signal::kPending;
  }
  if (auto sent = eventfd_->signal(); !sent) {
    spdlog::warn("GSI {}: MSI not sent: {}", *gsi_, sent.error().message());
    return Signal::kFailed;
  }
  sent_.fetch_add(1, std::memory_order_relaxed);
  return Signal::kSent;
}

Expected<void> MsiVector::take_down_if_changed(accel::Vm& vm) {
  const bool retarget = assigned_address_ != address_ || assigned_data_ != data_;
  if (irqfd_assigned_ && (!wants_live() || retarget)) {
    // Before the route changes or leaves: a signal must never meet a GSI without its route.
    FERRY_TRY(vm.unregister_irqfd(eventfd_->fd(), *gsi_));
    spdlog::trace("GSI {}: irqfd deassigned ({})", *gsi_, wants_live() ? "retarget" : "masked");
    irqfd_assigned_ = false;
    if (!wants_live() && !closing_) watch();
  }
  if (!wants_live() && gsi_) {
    if (pin_gsi_) {
      table_.unstage(*gsi_);
    } else {
      table_.release(*gsi_);
    }
    gsi_.reset();
  }
  return {};
}

Expected<void> MsiVector::stage_route() {
  if (!wants_live() || irqfd_assigned_) return {};
  stop_watching();
  if (!eventfd_) {
    FERRY_ASSIGN(EventFd fd, EventFd::create());
    eventfd_.emplace(std::move(fd));
  }
  if (!gsi_) {
    if (pin_gsi_) {
      gsi_ = *pin_gsi_;
    } else {
      FERRY_ASSIGN(gsi_, table_.allocate());
    }
  }
  return table_.stage(*gsi_, address_, data_);
}

Expected<void> MsiVector::attach_trigger() {
  if (!trigger_ || trigger_attached_ || !wants_live() || !eventfd_) return {};
  FERRY_TRY(trigger_->attach(eventfd_->fd()));
  spdlog::trace("MSI vector trigger attached to eventfd {}", eventfd_->fd());
  trigger_attached_ = true;
  return {};
}

Expected<void> MsiVector::assign_irqfd(accel::Vm& vm) {
  if (!wants_live() || irqfd_assigned_ || !gsi_) return {};
  if (!table_.committed(*gsi_, address_, data_)) {
    return fail(Errc::kInternal, "GSI {}: its route is not committed; irqfd left unassigned",
                *gsi_);
  }
  FERRY_TRY(vm.register_irqfd(eventfd_->fd(), *gsi_));
  spdlog::trace("GSI {}: irqfd assigned, MSI {:#x}/{:#x}", *gsi_, address_, data_);
  irqfd_assigned_ = true;
  assigned_address_ = address_;
  assigned_data_ = data_;
  return {};
}

void MsiVector::send_pending() {
  if (!irqfd_assigned_ || !pending_.exchange(false)) return;
  spdlog::trace("GSI {}: pending message sent at unmask", *gsi_);
  if (signal() == Signal::kFailed) pending_.store(true);
}

void MsiVector::watch() {
  EventLoop* loop = table_.event_loop();
  if (!loop || !trigger_attached_ || watched_) return;
  // The device's signals land on the eventfd now; each takes the count and sets the PBA bit.
  auto watched = loop->watch(eventfd_->fd(), [this] { take_signals_as_pending(); });
  if (!watched) {
    spdlog::warn("GSI {}: masked vector not watched (its signals wait on the eventfd): {}",
                 gsi_.value_or(0), watched.error().message());
    return;
  }
  watched_ = true;
}

void MsiVector::stop_watching() {
  if (!watched_) return;
  table_.event_loop()->unwatch(eventfd_->fd());
  watched_ = false;
  // What arrived since the loop last looked: the irqfd must not find it too (one delivery).
  take_signals_as_pending();
}

void MsiVector::take_signals_as_pending() {
  auto count = eventfd_->drain();
  if (count && *count > 0) {
    spdlog::trace("GSI {}: {} signal(s) taken as pending", gsi_.value_or(0), *count);
    pending_.store(true, std::memory_order_release);
  }
}

void MsiVector::tear_down() {
  MsiBatch batch(table_);
  masked_ = true;
  closing_ = true;
  batch.add(*this);
  (void)batch.commit();  // logged there
  stop_watching();
  if (trigger_attached_) {
    if (auto detached = trigger_->detach(); !detached) {
      spdlog::warn("MSI vector trigger not detached: {}", detached.error().message());
    }
  }
  if (irqfd_assigned_) {
    // Deassign failed: closing the eventfd now is the only way left to stop the irqfd.
    spdlog::warn("GSI {}: closing the eventfd of an irqfd still assigned", *gsi_);
  }
}

}  // namespace ferry::irq

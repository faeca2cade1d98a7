#include "ferry/vfio/irq_index.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace ferry::vfio {
namespace {

class VfioVectorTrigger final : public irq::VectorTrigger {
 public:
  VfioVectorTrigger(IrqIndexState& state, unsigned vector) : state_(state), vector_(vector) {}
  Expected<void> attach(int eventfd) override { return state_.attach(vector_, eventfd); }
  Expected<void> detach() override { return state_.detach(vector_); }

 private:
  IrqIndexState& state_;
  unsigned vector_;
};

}  // namespace

Expected<void> IrqIndexState::attach(unsigned vector, int eventfd) {
  std::lock_guard lock(mutex_);
  if (vector >= fds_.size()) {
    return fail(Errc::kInvalidArgument, "{}: vector {} of {}", device_.bdf(), vector, fds_.size());
  }
  if (!enabled_) {
    std::vector<int32_t> all = fds_;
    all[vector] = eventfd;
    FERRY_TRY(enable_with(all));
  } else {
    const int32_t fd = eventfd;
    FERRY_TRY(device_.set_irq_eventfds(index_, vector, std::span(&fd, 1)));
  }
  fds_[vector] = eventfd;
  return {};
}

Expected<void> IrqIndexState::detach(unsigned vector) {
  std::lock_guard lock(mutex_);
  if (vector >= fds_.size() || fds_[vector] < 0) return {};
  fds_[vector] = -1;
  if (!enabled_) return {};
  if (!guest_enabled_ && std::all_of(fds_.begin(), fds_.end(), [](int32_t fd) { return fd < 0; })) {
    enabled_ = false;
    return device_.disable_irqs(index_);
  }
  const int32_t none = -1;
  return device_.set_irq_eventfds(index_, vector, std::span(&none, 1));
}

Expected<void> IrqIndexState::set_guest_enabled(bool enabled) {
  std::lock_guard lock(mutex_);
  guest_enabled_ = enabled;
  if (enabled == enabled_) return {};
  if (enabled) return enable_with(fds_);
  enabled_ = false;
  return device_.disable_irqs(index_);
}

Expected<void> IrqIndexState::enable_with(std::span<const int32_t> fds) {
  if (before_enable_) before_enable_();
  FERRY_TRY(device_.set_irq_eventfds(index_, 0, fds));
  enabled_ = true;
  return {};
}

void IrqIndexState::disable() {
  std::lock_guard lock(mutex_);
  std::fill(fds_.begin(), fds_.end(), -1);
  if (!enabled_) return;
  enabled_ = false;
  if (auto off = device_.disable_irqs(index_); !off) spdlog::warn("{}", off.error().message());
}

std::unique_ptr<irq::VectorTrigger> IrqIndexState::trigger(unsigned vector) {
  return std::make_unique<VfioVectorTrigger>(*this, vector);
}

}  // namespace ferry::vfio

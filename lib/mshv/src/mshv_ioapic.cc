#include "mshv_ioapic.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace ferry::mshv {
namespace {

constexpr uint64_t kRegSelect = 0x00;
constexpr uint64_t kRegWindow = 0x10;
constexpr uint32_t kIndexId = 0x00;
constexpr uint32_t kIndexVersion = 0x01;
constexpr uint32_t kIndexArbitration = 0x02;
constexpr uint32_t kIndexRedirection = 0x10;
// Version 0x11 (an 82093AA: no EOI register) with 24 redirection entries.
constexpr uint32_t kVersion = 0x11 | ((kIoapicPins - 1) << 16);

constexpr uint64_t kRteVector = 0xff;
constexpr unsigned kRteDeliveryShift = 8;
constexpr uint64_t kRteLogical = 1ull << 11;
constexpr uint64_t kRteDeliveryStatus = 1ull << 12;
constexpr uint64_t kRteRemoteIrr = 1ull << 14;
constexpr uint64_t kRteLevel = 1ull << 15;
constexpr uint64_t kRteMask = 1ull << 16;
constexpr unsigned kRteDestShift = 56;
constexpr uint64_t kRteReadOnly = kRteDeliveryStatus | kRteRemoteIrr;

constexpr uint64_t kMsiAddressBase = 0xfee00000;
constexpr uint32_t kMsiLevelAssert = 1u << 14;

// The MSI an unmasked redirection entry stands for (the decode of mshv-abi.md in reverse).
accel::MsiRoute route_of(uint32_t pin, uint64_t rte) {
  const uint64_t dest = (rte >> kRteDestShift) & 0xff;
  const bool level = rte & kRteLevel;
  accel::MsiRoute route;
  route.gsi = pin;
  route.address = kMsiAddressBase | (dest << 12) | ((rte & kRteLogical) ? 1u << 2 : 0);
  route.data = static_cast<uint32_t>(rte & kRteVector) |
               static_cast<uint32_t>(((rte >> kRteDeliveryShift) & 7) << 8) |
               (level ? (1u << 15) | kMsiLevelAssert : 0);
  return route;
}

}  // namespace

Expected<std::unique_ptr<MshvIoapic>> MshvIoapic::create(IoapicHost& host) {
  std::vector<EventFd> pins;
  pins.reserve(kIoapicPins);
  for (unsigned i = 0; i < kIoapicPins; ++i) {
    FERRY_ASSIGN(EventFd pin, EventFd::create());
    pins.push_back(std::move(pin));
  }
  return std::unique_ptr<MshvIoapic>(new MshvIoapic(host, std::move(pins)));
}

void MshvIoapic::mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept {
  std::lock_guard lock(mutex_);
  const uint64_t offset = gpa - kIoapicBase;
  uint32_t value = 0;
  if (offset == kRegSelect) {
    value = select_;
  } else if (offset == kRegWindow) {
    value = read_register(select_);
  }
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = i < 4 ? static_cast<uint8_t>(value >> (8 * i)) : 0;
  }
}

void MshvIoapic::mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept {
  if (data.empty()) return;
  std::lock_guard lock(mutex_);
  const uint64_t offset = gpa - kIoapicBase;
  uint32_t value = 0;
  for (size_t i = 0; i < std::min<size_t>(data.size(), 4); ++i)
    value |= uint32_t{data[i]} << (8 * i);
  if (offset == kRegSelect) {
    select_ = static_cast<uint8_t>(value);
  } else if (offset == kRegWindow) {
    write_register(select_, value);
  }
}

uint32_t MshvIoapic::read_register(uint32_t index) const {
  switch (index) {
    case kIndexId:
    case kIndexArbitration:
      return id_ << 24;
    case kIndexVersion:
      return kVersion;
    default:
      break;
  }
  if (index < kIndexRedirection || index >= kIndexRedirection + 2 * kIoapicPins) return 0;
  const uint64_t rte = redirection_[(index - kIndexRedirection) / 2];
  return static_cast<uint32_t>(index % 2 ? rte >> 32 : rte);
}

void MshvIoapic::write_register(uint32_t index, uint32_t value) {
  if (index == kIndexId) {
    id_ = (value >> 24) & 0xf;
    return;
  }
  if (index < kIndexRedirection || index >= kIndexRedirection + 2 * kIoapicPins) return;
  const unsigned pin = (index - kIndexRedirection) / 2;
  const uint64_t old = redirection_[pin];
  uint64_t rte = old;
  if (index % 2) {
    rte = (rte & 0x00ffffffffffffffull) | (uint64_t{value} & 0xff000000) << 32;
  } else {
    rte = (rte & ~uint64_t{0xffffffff}) | (value & ~kRteReadOnly) | (old & kRteReadOnly);
  }
  if (!(rte & kRteLevel)) rte &= ~kRteRemoteIrr;
  redirection_[pin] = rte;
  const bool route_changed =
      (old & ~kRteReadOnly) != (rte & ~kRteReadOnly) && (!(old & kRteMask) || !(rte & kRteMask));
  if (!route_changed) return;
  if (auto committed = commit_routes(); !committed) {
    spdlog::error("IOAPIC pin {}: {}", pin, committed.error().message());
    return;
  }
  if ((old & kRteMask) && !(rte & kRteMask)) deliver_if_pending(pin);
}

Expected<void> MshvIoapic::commit_routes() {
  std::array<accel::MsiRoute, kIoapicPins> routes;
  size_t count = 0;
  for (uint32_t pin = 0; pin < kIoapicPins; ++pin) {
    if (!(redirection_[pin] & kRteMask)) routes[count++] = route_of(pin, redirection_[pin]);
  }
  FERRY_TRY(host_.set_pin_routes({routes.data(), count}));
  // The route exists before the irqfd: a pin's irqfd is assigned the first time it is unmasked.
  for (uint32_t pin = 0; pin < kIoapicPins; ++pin) {
    if ((redirection_[pin] & kRteMask) || irqfd_assigned_[pin]) continue;
    FERRY_TRY(host_.assign_pin_irqfd(pins_[pin].fd(), pin));
    irqfd_assigned_[pin] = true;
  }
  return {};
}

void MshvIoapic::deliver(unsigned pin) {
  if (auto sent = pins_[pin].signal(); !sent) {
    spdlog::error("IOAPIC pin {}: {}", pin, sent.error().message());
  }
}

void MshvIoapic::deliver_if_pending(unsigned pin) {
  uint64_t& rte = redirection_[pin];
  if ((rte & kRteMask) || !level_[pin] || !(rte & kRteLevel) || (rte & kRteRemoteIrr)) return;
  rte |= kRteRemoteIrr;
  deliver(pin);
}

Expected<void> MshvIoapic::set_level(uint32_t pin, bool high) {
  if (pin >= kIoapicPins) {
    return fail(Errc::kInvalidArgument, "interrupt pin {} does not exist: the IOAPIC has pins 0-{}",
                pin, kIoapicPins - 1);
  }
  std::lock_guard lock(mutex_);
  const bool was_high = level_[pin];
  level_[pin] = high;
  const uint64_t rte = redirection_[pin];
  if (rte & kRteMask) return {};
  if (rte & kRteLevel) {
    deliver_if_pending(pin);
  } else if (high && !was_high) {
    deliver(pin);
  }
  return {};
}

void MshvIoapic::end_of_interrupt(uint8_t vector) noexcept {
  std::lock_guard lock(mutex_);
  for (unsigned pin = 0; pin < kIoapicPins; ++pin) {
    uint64_t& rte = redirection_[pin];
    if (!(rte & kRteRemoteIrr) || (rte & kRteVector) != vector) continue;
    rte &= ~kRteRemoteIrr;
    deliver_if_pending(pin);
  }
}

uint64_t MshvIoapic::redirection_entry(unsigned pin) const {
  std::lock_guard lock(mutex_);
  return pin < kIoapicPins ? redirection_[pin] : 0;
}

}  // namespace ferry::mshv

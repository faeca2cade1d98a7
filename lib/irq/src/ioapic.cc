#include "ferry/irq/ioapic.h"

#include <spdlog/spdlog.h>

#include "ferry/irq/msi_batch.h"

namespace ferry::irq {
namespace {

constexpr uint64_t kRegisterSelect = 0x00;
constexpr uint64_t kWindow = 0x10;
constexpr uint64_t kEoi = 0x40;  // version 0x20 direct EOI register

constexpr uint32_t kIndexId = 0x00;
constexpr uint32_t kIndexVersion = 0x01;
constexpr uint32_t kIndexArbitration = 0x02;
constexpr uint32_t kIndexFirstEntry = 0x10;
constexpr uint32_t kVersion = 0x20 | ((Ioapic::kPins - 1) << 16);

constexpr uint64_t kVectorMask = 0xff;
constexpr uint64_t kDeliveryModeShift = 8;
constexpr uint64_t kDestModeLogical = 1ull << 11;
constexpr uint64_t kRemoteIrr = 1ull << 14;
constexpr uint64_t kLevelTriggered = 1ull << 15;
constexpr uint64_t kDestinationShift = 56;
// Bits the guest cannot set: delivery status (12) and Remote IRR (14).
constexpr uint64_t kWritableLow = 0x1afff;

uint8_t vector_of(uint64_t entry) { return static_cast<uint8_t>(entry & kVectorMask); }
bool level_triggered(uint64_t entry) { return entry & kLevelTriggered; }
bool masked(uint64_t entry) { return entry & Ioapic::kMaskBit; }

// The MSI a redirection entry stands for (Intel SDM: MSI address and data formats).
accel::MsiRoute route_of(unsigned pin, uint64_t entry) {
  const uint64_t destination = (entry >> kDestinationShift) & 0xff;
  const uint64_t address =
      0xfee00000ull | (destination << 12) | ((entry & kDestModeLogical) ? 1ull << 2 : 0);
  uint32_t data =
      vector_of(entry) | static_cast<uint32_t>(((entry >> kDeliveryModeShift) & 7) << 8);
  if (level_triggered(entry)) data |= (1u << 15) | (1u << 14);  // level, asserted
  return {pin, address, data};
}

}  // namespace

Expected<std::shared_ptr<Ioapic>> Ioapic::create(MsiRouteTable& routes) {
  for (unsigned pin = 0; pin < kPins; ++pin) {
    if (auto claimed = routes.claim(pin); !claimed) {
      for (unsigned taken = 0; taken < pin; ++taken) routes.release(taken);
      return fail(claimed.error().context("IOAPIC"));
    }
  }
  return std::shared_ptr<Ioapic>(new Ioapic(routes));
}

Ioapic::Ioapic(MsiRouteTable& routes) : routes_(routes) {
  for (unsigned pin = 0; pin < kPins; ++pin) {
    pins_[pin].msi = std::make_unique<MsiVector>(routes, nullptr, pin);
    pins_[pin].line.ioapic = this;
    pins_[pin].line.pin = pin;
  }
}

Ioapic::~Ioapic() {
  {
    MsiBatch batch(routes_);  // every pin down in one commit
    for (Pin& pin : pins_) pin.msi->set_masked(batch, true);
  }
  for (unsigned pin = 0; pin < kPins; ++pin) {
    pins_[pin].msi.reset();
    routes_.release(pin);
  }
}

uint64_t Ioapic::read_register(uint64_t offset, unsigned) {
  std::lock_guard lock(mutex_);
  switch (offset) {
    case kRegisterSelect:
      return select_;
    case kWindow:
      return read_indirect(select_);
    default:
      return 0;
  }
}

void Ioapic::write_register(uint64_t offset, unsigned, uint64_t value) {
  if (offset == kEoi) {
    end_of_interrupt(static_cast<uint8_t>(value));
    return;
  }
  std::lock_guard lock(mutex_);
  if (offset == kRegisterSelect) select_ = static_cast<uint8_t>(value);
  if (offset == kWindow) write_indirect(select_, static_cast<uint32_t>(value));
}

uint32_t Ioapic::read_indirect(uint32_t index) const {
  if (index == kIndexId || index == kIndexArbitration) return id_;
  if (index == kIndexVersion) return kVersion;
  const uint32_t entry_index = index - kIndexFirstEntry;
  if (index < kIndexFirstEntry || entry_index >= 2 * kPins) return 0;
  const Pin& pin = pins_[entry_index / 2];
  const uint64_t entry = pin.entry | (pin.remote_irr ? kRemoteIrr : 0);
  return static_cast<uint32_t>(entry_index % 2 ? entry >> 32 : entry);
}

void Ioapic::write_indirect(uint32_t index, uint32_t value) {
  if (index == kIndexId) {
    id_ = value & (0xfu << 24);
    return;
  }
  const uint32_t entry_index = index - kIndexFirstEntry;
  if (index < kIndexFirstEntry || entry_index >= 2 * kPins) return;  // read-only or absent
  const unsigned n = entry_index / 2;
  Pin& pin = pins_[n];
  if (entry_index % 2) {
    pin.entry = (pin.entry & 0xffffffffull) | (uint64_t{value & 0xff000000u} << 32);
  } else {
    pin.entry = (pin.entry & ~0xffffffffull) | (value & kWritableLow);
  }
  entry_changed(n);
}

void Ioapic::entry_changed(unsigned n) {
  Pin& pin = pins_[n];
  if (!level_triggered(pin.entry)) pin.remote_irr = false;
  MsiBatch batch(routes_);
  if (masked(pin.entry)) {
    pin.msi->set_masked(batch, true);  // nothing fires while masked
    return;
  }
  const accel::MsiRoute route = route_of(n, pin.entry);
  pin.msi->set_message(batch, route.address, route.data);
  pin.msi->set_masked(batch, false);
  if (!batch.commit()) return;  // logged
  // A level interrupt still asserted when its pin is unmasked fires now.
  if (pin.asserted && level_triggered(pin.entry) && !pin.remote_irr) fire(n);
}

void Ioapic::set_level(unsigned n, bool asserted) {
  if (n >= kPins) return;
  std::lock_guard lock(mutex_);
  Pin& pin = pins_[n];
  const bool rising = asserted && !pin.asserted;
  pin.asserted = asserted;
  if (masked(pin.entry)) return;
  if (level_triggered(pin.entry) ? (asserted && !pin.remote_irr) : rising) fire(n);
}

void Ioapic::end_of_interrupt(uint8_t vector) {
  std::lock_guard lock(mutex_);
  for (unsigned n = 0; n < kPins; ++n) {
    Pin& pin = pins_[n];
    if (!pin.remote_irr || !level_triggered(pin.entry) || vector_of(pin.entry) != vector) continue;
    pin.remote_irr = false;
    if (pin.resample != nullptr) {
      pin.asserted = false;  // the source asserts again (a new trigger) if it still needs to
      if (auto signalled = pin.resample->signal(); !signalled) {
        spdlog::warn("IOAPIC pin {}: resample not signalled: {}", n, signalled.error().message());
      }
      continue;
    }
    if (pin.asserted && !masked(pin.entry)) fire(n);
  }
}

void Ioapic::set_resample(unsigned n, const EventFd* resample) {
  if (n >= kPins) return;
  std::lock_guard lock(mutex_);
  pins_[n].resample = resample;
}

void Ioapic::fire(unsigned n) {
  Pin& pin = pins_[n];
  const MsiVector::Signal signal = pin.msi->signal();
  // A refused message (an illegal vector, a reserved mode) reaches no local APIC, so no EOI
  // will come: Remote IRR stays clear.
  if (signal == MsiVector::Signal::kDropped) return;
  if (level_triggered(pin.entry)) pin.remote_irr = true;
  if (signal == MsiVector::Signal::kPending) {
    spdlog::warn("IOAPIC pin {}: not live (its route did not commit); sent when it is", n);
  }
}

}  // namespace ferry::irq

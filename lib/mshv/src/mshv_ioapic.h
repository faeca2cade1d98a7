// A userspace IOAPIC for MSHV, which has none in the kernel. Each of its 24 pins is GSI 0-23:
// while a pin is unmasked its redirection entry is an MSI route on that GSI, committed with the
// device routes in the partition's one table, and asserting the pin signals the pin's irqfd. The
// hypervisor's LAPIC reports the EOI of a level-triggered vector as an X64_APIC_EOI message; the
// run loop passes it to end_of_interrupt(), which clears Remote IRR and re-delivers a pin that is
// still asserted.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/base/event_fd.h"
#include "ioapic_host.h"

namespace ferry::mshv {

constexpr uint64_t kIoapicBase = 0xfec00000;
constexpr uint64_t kIoapicSize = 0x1000;
constexpr unsigned kIoapicPins = 24;

class MshvIoapic {
 public:
  static Expected<std::unique_ptr<MshvIoapic>> create(IoapicHost& host);

  static bool contains(uint64_t gpa) {
    return gpa >= kIoapicBase && gpa - kIoapicBase < kIoapicSize;
  }
  void mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept;
  void mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept;

  /// Drives pin `pin` (0-23): true asserts it.
  Expected<void> set_level(uint32_t pin, bool high);
  /// The guest ended `vector` (a level-triggered interrupt) on some LAPIC.
  void end_of_interrupt(uint8_t vector) noexcept;
  /// Redirection entry `pin` as the guest programmed it (with Remote IRR).
  uint64_t redirection_entry(unsigned pin) const;

 private:
  MshvIoapic(IoapicHost& host, std::vector<EventFd> pins) : host_(host), pins_(std::move(pins)) {
    redirection_.fill(kMasked);
  }
  static constexpr uint64_t kMasked = 1ull << 16;

  uint32_t read_register(uint32_t index) const;  // callers hold mutex_
  void write_register(uint32_t index, uint32_t value);
  Expected<void> commit_routes();
  void deliver(unsigned pin);
  void deliver_if_pending(unsigned pin);

  IoapicHost& host_;
  std::vector<EventFd> pins_;  // one irqfd eventfd per pin

  // Lock order: mutex_ before the partition's route mutex (commit_routes calls into the host).
  mutable std::mutex mutex_;
  uint8_t select_ = 0;
  uint32_t id_ = 0;
  std::array<uint64_t, kIoapicPins> redirection_{};
  std::array<bool, kIoapicPins> level_{};
  std::array<bool, kIoapicPins> irqfd_assigned_{};
};

}  // namespace ferry::mshv

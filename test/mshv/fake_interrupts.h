// The interrupt plumbing of a fake partition, with the semantics of mshv_irq.c and
// mshv_eventfd.c: MSHV_SET_MSI_ROUTING replaces the whole table and re-resolves every irqfd; an
// irqfd on a GSI without a route is accepted, and a signal there is dropped or asserts vector 0
// on APIC 0 depending on the table entry it finds (assert_irq() below); a count already pending at
// assign time is injected at once with the route of that moment; a resampling irqfd needs a
// level-triggered route; ioeventfds are MMIO doorbells only.
//
// The kernel handles an eventfd signal synchronously, inside the write: each write() wakes the
// irqfd once, and the wakeup reads and clears the whole counter (mshv_irqfd_wakeup). The fake
// counts the writes as they happen (fake_eventfd.h) and resolves them when it looks
// (deliver_signals()), which it does before every ioctl and whenever a test asks: since routes
// only change through ioctls, a signal is always resolved against the table that was in force
// when it was sent, as in the kernel.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "fake_mshv_types.h"
#include "ferry/base/unique_fd.h"
#include "ferry/mshv/mshv_abi.h"

namespace ferry::test {

class FakeInterrupts {
 public:
  /// Wakeups take the root scheduler's fast path (mshv_try_assert_irq_fast); `vp_exists` says
  /// whether the partition has the VP an APIC ID names.
  void use_fast_path(std::function<bool(uint32_t)> vp_exists) { vp_exists_ = std::move(vp_exists); }

  /// Device interrupts follow FakeMshvOptions::passthrough (a hypothesis).
  void model_passthrough() { passthrough_ = true; }

  int set_msi_routing(const void* arg);
  int irqfd(const mshv::MshvUserIrqfd& args);
  int ioeventfd(const mshv::MshvUserIoeventfd& args);

  /// Injects (or drops) for every signal sent to an irqfd since the last look.
  void deliver_signals();
  /// Adds the fds the fake holds for eventfds: the kernel holds their contexts, not their files.
  void held_fds(std::set<int>& fds) const;
  /// EPOLLHUP: deactivates every irqfd whose eventfd is not among `open_ids` (its last fd closed).
  void hang_up(const std::set<uint64_t>& open_ids);
  /// A guest EOI of `vector`: true when a resampler took it (the kernel then signals the
  /// resamplefds and does not pass the message on). The kernel matches the vector against the
  /// resampler's GSI number.
  bool resample_on_eoi(uint8_t vector);
  /// A guest MMIO write: true when an ioeventfd doorbell took it (no exit).
  bool doorbell(uint64_t gpa, uint32_t size, uint64_t value);

  // --- VFIO interrupts (test-only calls standing for VFIO) -------------------------------------
  /// VFIO_DEVICE_SET_IRQS makes `eventfd` a vector's trigger: 0, or -EBADF / -EINVAL.
  int vfio_set_trigger(int eventfd);
  /// The device raises the vector whose trigger is `eventfd`: VFIO signals the eventfd, or, with
  /// passthrough, the interrupt goes through the mapping made at assign or is lost. False when
  /// `eventfd` is no trigger.
  bool vfio_interrupt(int eventfd);
  /// Passthrough device interrupts lost: their irqfd was assigned before the trigger existed.
  uint64_t lost_device_interrupts() const { return lost_device_interrupts_; }

  const std::map<uint32_t, mshv::MshvUserIrqEntry>& routes() const { return routes_; }
  const std::vector<FakeInjection>& injections() const { return injections_; }
  void clear_injections() { injections_.clear(); }
  /// Signals dropped because their GSI had no route, per GSI.
  const std::map<uint32_t, uint64_t>& dropped() const { return dropped_; }
  /// Signals on a hole of the table (each asserted vector 0 on APIC 0), never cleared.
  uint64_t hole_signals() const { return hole_signals_; }
  size_t irqfd_count() const { return irqfds_.size(); }
  std::vector<FakeIrqfd> irqfds() const;
  size_t ioeventfd_count() const { return ioeventfds_.size(); }

 private:
  struct Irqfd {
    UniqueFd eventfd;  // a dup for the kernel's reference, which holds no file open (hang_up)
    uint64_t id;
    uint32_t gsi;
    std::optional<UniqueFd> resamplefd;
    uint64_t writes_seen;  // writes to the eventfd already resolved (or made before assign)
    // HYPOTHESIS: the device interrupt's mapping, made at assign when the trigger existed.
    std::optional<FakeInjection> mapped = std::nullopt;
  };
  struct Ioeventfd {
    UniqueFd eventfd;
    uint64_t id;
    uint64_t addr;
    uint32_t len;
    bool wildcard;
    uint64_t datamatch;
  };

  int assign_irqfd(const mshv::MshvUserIrqfd& args);
  int deassign_irqfd(const mshv::MshvUserIrqfd& args);
  void shut_down(const Irqfd& irqfd);
  // A signal on `gsi`: from a wakeup (either path) or a count pending at assign (slow path).
  void assert_irq(uint32_t gsi, bool at_assign);
  FakeInjection decode(uint32_t gsi) const;

  std::map<uint32_t, mshv::MshvUserIrqEntry> routes_;
  std::vector<Irqfd> irqfds_;
  std::vector<Ioeventfd> ioeventfds_;
  std::vector<FakeInjection> injections_;
  std::map<uint32_t, uint64_t> dropped_;
  uint64_t hole_signals_ = 0;
  std::function<bool(uint32_t)> vp_exists_;  // set when the fast path is on
  bool passthrough_ = false;
  std::map<uint64_t, UniqueFd> vfio_triggers_;  // eventfd id -> a dup (VFIO holds the context)
  uint64_t lost_device_interrupts_ = 0;
};

}  // namespace ferry::test

#include "fake_interrupts.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "fake_eventfd.h"

namespace ferry::test {

using namespace mshv;

int FakeInterrupts::set_msi_routing(const void* arg) {
  MshvUserIrqTable header;
  std::memcpy(&header, arg, sizeof header);
  if (header.nr > kMshvMaxGuestIrqs || header.rsvd != 0) return -EINVAL;
  std::map<uint32_t, MshvUserIrqEntry> table;
  const auto* entries = static_cast<const uint8_t*>(arg) + sizeof header;
  for (uint32_t i = 0; i < header.nr; ++i) {
    MshvUserIrqEntry e;
    std::memcpy(&e, entries + i * sizeof e, sizeof e);
    if (e.gsi >= kMshvMaxGuestIrqs || e.address_hi != 0) return -EINVAL;
    if (!table.emplace(e.gsi, e).second) return -EINVAL;  // one route per GSI
  }
  routes_ = std::move(table);  // the whole table, nr = 0 clears it
  return 0;
}

int FakeInterrupts::irqfd(const MshvUserIrqfd& args) {
  if (args.flags & ~kIrqfdFlagsMask) return -EINVAL;
  return (args.flags & kIrqfdDeassign) ? deassign_irqfd(args) : assign_irqfd(args);
}

int FakeInterrupts::assign_irqfd(const MshvUserIrqfd& args) {
  EventFdLookup event = lookup_eventfd(args.fd);
  if (!event.info) return event.error;
  std::optional<UniqueFd> resample;
  if (args.flags & kIrqfdResample) {
    EventFdLookup r = lookup_eventfd(args.resamplefd);
    if (!r.info) return r.error;
    resample.emplace(::dup(args.resamplefd));
  }
  for (const Irqfd& existing : irqfds_) {
    if (existing.id == event.info->id) return -EBUSY;  // one GSI per eventfd
  }
  auto route = routes_.find(args.gsi);
  if ((args.flags & kIrqfdResample) &&
      (route == routes_.end() || !(route->second.data >> 15 & 1))) {
    return -EINVAL;  // a resampler needs a level-triggered route now
  }
  // Writes from here on are wakeups. The counter is read after, so that a write racing with the
  // assign is never lost (at worst it also counts as pending).
  irqfds_.push_back({UniqueFd(::dup(args.fd)), event.info->id, args.gsi, std::move(resample),
                     eventfd_writes(event.info->id)});
  // HYPOTHESIS (passthrough): VFIO's trigger already exists, so the device interrupt is mapped
  // now, with the route of this moment; there is nothing to map without a route.
  if (passthrough_ && vfio_triggers_.count(event.info->id) != 0) {
    FakeInjection mapping = decode(args.gsi);
    if (mapping.entry == FakeRouteEntry::kRoute) {
      mapping.device = true;
      irqfds_.back().mapped = mapping;
    }
  }
  event = lookup_eventfd(irqfds_.back().eventfd.get());
  // A count already on the eventfd fires at once, with the route of this moment. The kernel
  // does not consume it here: the next signal's wakeup reads it along with its own.
  if (event.info && event.info->count > 0) assert_irq(args.gsi, true);
  return 0;
}

int FakeInterrupts::deassign_irqfd(const MshvUserIrqfd& args) {
  EventFdLookup event = lookup_eventfd(args.fd);
  if (!event.info) return event.error;
  // Signals sent before the deassign were injected as they were sent.
  deliver_signals();
  std::erase_if(irqfds_, [&](const Irqfd& i) {
    if (i.id != event.info->id || i.gsi != args.gsi) return false;
    shut_down(i);
    return true;
  });
  return 0;  // the kernel answers 0 even when nothing matched
}

// mshv_irqfd_shutdown(): leaving the eventfd's wait queue reads and resets its counter, so a
// count left pending at assign is gone.
void FakeInterrupts::shut_down(const Irqfd& irqfd) { drain_eventfd(irqfd.eventfd.get()); }

void FakeInterrupts::deliver_signals() {
  for (Irqfd& irqfd : irqfds_) {
    const uint64_t writes = eventfd_writes(irqfd.id);
    if (writes == irqfd.writes_seen) continue;
    // Each write woke the irqfd, which read (and cleared) the whole counter and asserted once.
    for (uint64_t i = irqfd.writes_seen; i < writes; ++i) assert_irq(irqfd.gsi, false);
    irqfd.writes_seen = writes;
    drain_eventfd(irqfd.eventfd.get());
  }
}

void FakeInterrupts::held_fds(std::set<int>& fds) const {
  for (const Irqfd& irqfd : irqfds_) {
    fds.insert(irqfd.eventfd.get());
    if (irqfd.resamplefd) fds.insert(irqfd.resamplefd->get());
  }
  for (const Ioeventfd& p : ioeventfds_) fds.insert(p.eventfd.get());
  for (const auto& [id, trigger] : vfio_triggers_) fds.insert(trigger.get());
}

int FakeInterrupts::vfio_set_trigger(int eventfd) {
  EventFdLookup event = lookup_eventfd(eventfd);
  if (!event.info) return event.error;
  vfio_triggers_[event.info->id] = UniqueFd(::dup(eventfd));
  return 0;
}

bool FakeInterrupts::vfio_interrupt(int eventfd) {
  EventFdLookup event = lookup_eventfd(eventfd);
  auto trigger = event.info ? vfio_triggers_.find(event.info->id) : vfio_triggers_.end();
  if (trigger == vfio_triggers_.end()) return false;
  auto irqfd = std::find_if(irqfds_.begin(), irqfds_.end(),
                            [&](const Irqfd& i) { return i.id == trigger->first; });
  if (!passthrough_ || irqfd == irqfds_.end()) {
    // VFIO's own interrupt handler: eventfd_signal() on the trigger (kernel fact).
    const uint64_t one = 1;
    (void)!::write(trigger->second.get(), &one, sizeof one);
    return true;
  }
  // HYPOTHESIS: the hypervisor delivers the device interrupt through the mapping, or it is lost.
  if (irqfd->mapped) {
    injections_.push_back(*irqfd->mapped);
  } else {
    ++lost_device_interrupts_;
  }
  return true;
}

// mshv_irqfd_wakeup() with EPOLLHUP: the eventfd is being released, and the irqfd deactivates
// itself (the same shutdown as a deassign).
void FakeInterrupts::hang_up(const std::set<uint64_t>& open_ids) {
  std::erase_if(irqfds_, [&](const Irqfd& i) {
    if (open_ids.count(i.id) != 0) return false;
    shut_down(i);
    return true;
  });
}

std::vector<FakeIrqfd> FakeInterrupts::irqfds() const {
  std::vector<FakeIrqfd> list;
  for (const Irqfd& i : irqfds_) list.push_back({i.gsi, i.id, i.resamplefd.has_value()});
  return list;
}

// mshv_ret_girq_entry() and mshv_copy_girq_info(): the table has an entry for every GSI up to the
// highest routed one, zero-filled where there is no route; an invalid entry decodes to all zeros.
FakeInjection FakeInterrupts::decode(uint32_t gsi) const {
  FakeInjection i;
  i.gsi = gsi;
  if (routes_.empty() || gsi > routes_.rbegin()->first) {
    i.entry = FakeRouteEntry::kNone;
    return i;
  }
  auto route = routes_.find(gsi);
  if (route == routes_.end()) {
    i.entry = FakeRouteEntry::kHole;
    return i;
  }
  const MshvUserIrqEntry& e = route->second;
  i.vector = static_cast<uint8_t>(e.data & 0xff);
  i.apic_id = static_cast<uint8_t>((e.address_lo >> 12) & 0xff);
  i.delivery = static_cast<uint8_t>((e.data >> 8) & 7);
  i.level = ((e.data >> 15) & 1) != 0;
  i.logical = ((e.address_lo >> 2) & 1) != 0;
  return i;
}

void FakeInterrupts::assert_irq(uint32_t gsi, bool at_assign) {
  FakeInjection i = decode(gsi);
  i.at_assign = at_assign;
  if (i.entry == FakeRouteEntry::kHole) ++hole_signals_;
  // The fast path (wakeups only) checks no validity at all: it sets the decoded vector, 0 without
  // a route, in the register page of the VP the APIC ID names. Logical destinations go slow.
  if (!at_assign && vp_exists_ && !i.logical) {
    if (!vp_exists_(i.apic_id)) {
      // pt_vp_array[apic_id] is dereferenced unchecked.
      ADD_FAILURE() << "fake mshv: an irqfd on GSI " << gsi << " targets APIC " << int{i.apic_id}
                    << ", which has no VP; the kernel's fast path would dereference NULL";
      return;
    }
    i.fast_path = true;
    injections_.push_back(i);
    return;
  }
  // mshv_assert_irq_slow() checks validity only when the entry's GSI number is non-zero. A hole's
  // zero-filled entry has number 0, as has GSI 0 itself: both assert the zeroed route.
  if (i.entry == FakeRouteEntry::kNone && gsi != 0) {
    ++dropped_[gsi];
    return;
  }
  injections_.push_back(i);
}

bool FakeInterrupts::resample_on_eoi(uint8_t vector) {
  bool taken = false;
  for (const Irqfd& irqfd : irqfds_) {
    if (!irqfd.resamplefd || irqfd.gsi != vector) continue;
    const uint64_t one = 1;
    (void)!::write(irqfd.resamplefd->get(), &one, sizeof one);
    taken = true;
  }
  return taken;
}

int FakeInterrupts::ioeventfd(const MshvUserIoeventfd& args) {
  bool rsvd = false;
  for (uint8_t b : args.rsvd) rsvd |= b != 0;
  if ((args.flags & ~kIoeventfdFlagsMask) || rsvd) return -EINVAL;
  if (args.flags & kIoeventfdPio) return -EOPNOTSUPP;  // "PIO not yet implemented"
  const bool wildcard = !(args.flags & kIoeventfdDatamatch);
  if (args.flags & kIoeventfdDeassign) {
    EventFdLookup event = lookup_eventfd(args.fd);
    if (!event.info) return event.error;
    auto it = std::find_if(ioeventfds_.begin(), ioeventfds_.end(), [&](const Ioeventfd& p) {
      return p.id == event.info->id && p.addr == args.addr && p.len == args.len &&
             p.wildcard == wildcard && (wildcard || p.datamatch == args.datamatch);
    });
    if (it == ioeventfds_.end()) return -ENOENT;
    ioeventfds_.erase(it);
    return 0;
  }
  if (args.len != 0 && args.len != 1 && args.len != 2 && args.len != 4 && args.len != 8) {
    return -EINVAL;
  }
  if (args.addr + args.len < args.addr) return -EINVAL;
  EventFdLookup event = lookup_eventfd(args.fd);
  if (!event.info) return event.error;
  for (const Ioeventfd& p : ioeventfds_) {
    if (p.addr == args.addr && p.len == args.len &&
        (p.wildcard || wildcard || p.datamatch == args.datamatch)) {
      return -EEXIST;
    }
  }
  ioeventfds_.push_back(
      {UniqueFd(::dup(args.fd)), event.info->id, args.addr, args.len, wildcard, args.datamatch});
  return 0;
}

bool FakeInterrupts::doorbell(uint64_t gpa, uint32_t size, uint64_t value) {
  for (const Ioeventfd& p : ioeventfds_) {
    if (p.addr != gpa || (p.len != 0 && p.len != size)) continue;
    if (!p.wildcard && p.datamatch != value) continue;
    const uint64_t one = 1;
    (void)!::write(p.eventfd.get(), &one, sizeof one);
    return true;
  }
  return false;
}

}  // namespace ferry::test

// The order in which a vector going live meets the hypervisor, per accelerator. The backend
// states how it pairs a device's interrupt with an irqfd (accel::IrqfdPairing); this picks the
// sequence from that, so no caller ever chooses an order (docs/irq.md has the tables).
//
// Taking a vector down is the same everywhere and not a step list: deassign the irqfd first,
// then let its route leave the table, then detach the trigger, then close the eventfd.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "ferry/accel/vm.h"

namespace ferry::irq {

enum class Step : uint8_t {
  kAttachTrigger,  // the device side: VFIO_DEVICE_SET_IRQS on the eventfd (none when emulated)
  kCommitRoutes,   // push the staged table (once per batch, for every vector in it)
  kAssignIrqfd,    // the eventfd starts injecting on its GSI
};

struct Ordering {
  std::string_view name;
  std::array<Step, 3> activation;
};

// MSHV: the trigger must exist when the irqfd is assigned, with the route already in force
// (Cloud Hypervisor's order).
inline constexpr Ordering kTriggerFirst{
    "trigger, commit, irqfd", {Step::kAttachTrigger, Step::kCommitRoutes, Step::kAssignIrqfd}};
// KVM: pairing happens whenever both exist; the route still precedes the irqfd so no signal
// finds a GSI without its route (QEMU's order).
inline constexpr Ordering kRouteFirst{
    "commit, irqfd, trigger", {Step::kCommitRoutes, Step::kAssignIrqfd, Step::kAttachTrigger}};

constexpr const Ordering& ordering_for(accel::IrqfdPairing pairing) {
  return pairing == accel::IrqfdPairing::kAtAssign ? kTriggerFirst : kRouteFirst;
}

}  // namespace ferry::irq

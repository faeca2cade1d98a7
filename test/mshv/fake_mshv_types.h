// The vocabulary of the behavioral /dev/mshv model (fake_mshv_driver.h): its options, what it
// records, and the guest events a test plays.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ferry/mshv/mshv_driver.h"

namespace ferry::test {

struct FakeMshvOptions {
  bool device_present = true;
  // Newer kernels take MSHV_PT_BIT_CPU_AND_XSAVE_FEATURES; 6.15/6.16 answer EINVAL.
  bool cpu_feature_banks = false;
  // MSHV_CREATE_DEVICE (the VFIO bridge) is not upstream.
  bool vfio_device = false;
  // Older drivers deposit memory and answer EAGAIN when the hypervisor runs short: the first this
  // many hypercalls fail that way once each.
  int insufficient_memory_hypercalls = 0;
  // VPs have a register page (MSHV_VP_MMAP_OFFSET_REGISTERS); an isolated partition has none
  // and answers ENODEV, so the VMM does everything by hypercall.
  bool register_page = true;
  // The hypervisor offers dispatch interrupt injection and the root partition schedules the VPs
  // (the root scheduler): an irqfd wakeup then sets the vector in the target VP's register page
  // (mshv_try_assert_irq_fast) instead of calling HvCallAssertVirtualInterrupt.
  bool root_scheduler = false;
  // A HYPOTHESIS, not kernel fact (OpenVMM's MSHV irqfd code; docs/mshv.md, "VFIO passthrough"):
  // a VFIO device's interrupt is mapped for the guest when an irqfd is assigned on an eventfd
  // that is already VFIO's trigger, with the route of that moment, and is not re-targeted by
  // later routing changes; device interrupts through an irqfd assigned before the trigger
  // existed are lost. Plain writes to the eventfd (emulated devices) are not affected.
  bool passthrough = false;
  // Requests this kernel does not know (ENOTTY), e.g. to play an older kernel.
  std::set<unsigned long> unknown_requests;
  // The host CPUID the guest's table starts from: {leaf, subleaf} -> registers; absent leaves read
  // as zero.
  std::map<std::pair<uint32_t, uint32_t>, mshv::CpuidRegs> host_cpuid;
};

// The routing-table entry an irqfd finds for its GSI (mshv_ret_girq_entry in mshv_irq.c).
enum class FakeRouteEntry : uint8_t {
  kRoute,  // the GSI's own route
  kHole,   // no route, but a higher GSI has one: the table's zero-filled entry (GSI number 0)
  kNone,   // no table, or the GSI beyond it: an invalid entry that keeps the GSI's number
};

// An interrupt the hypervisor was asked to assert, as MSHV_IRQFD decodes the route. Without a
// route the kernel decodes the zeroed entry: vector 0, APIC 0, fixed, edge, physical.
struct FakeInjection {
  uint32_t gsi = 0;  // the irqfd's
  uint8_t vector = 0;
  uint8_t apic_id = 0;
  uint8_t delivery = 0;
  bool level = false;
  bool logical = false;
  bool at_assign = false;  // a count pending on the eventfd when the irqfd was assigned
  FakeRouteEntry entry = FakeRouteEntry::kRoute;
  bool fast_path = false;  // set in the VP's register page, not by hypercall
  bool device = false;     // HYPOTHESIS: a passthrough device interrupt, mapped at assign
};

// An irqfd the fake's partition holds: its GSI and the eventfd's identity (eventfd-id in
// /proc/self/fdinfo, see fake_eventfd.h).
struct FakeIrqfd {
  uint32_t gsi = 0;
  uint64_t eventfd_id = 0;
  bool resample = false;
};

// An MMIO instruction of the guest: the fake cannot decode its memory operand, so the test says
// where the access it intercepts points.
struct FakeMmioAccess {
  std::optional<uint64_t> gpa =
      std::nullopt;  // the message's GPA; by default the fake's walk of `gva`
  uint64_t gva = 0;
  bool write = false;
  bool gpa_valid = true;            // memory_access_info gva->gpa valid
  unsigned instruction_bytes = 16;  // how many instruction bytes the message carries
};

// An exception the VMM injected through HV_REGISTER_PENDING_INTERRUPTION, as the fake hypervisor
// delivered it when the VP next ran (the guest's handler itself is not modeled: the VP then
// idles until a test plays an event).
struct FakeException {
  uint8_t vector = 0;
  std::optional<uint32_t> error_code;
  uint64_t cr2 = 0;  // CR2 at delivery
  uint64_t rip = 0;  // of the instruction the exception belongs to
  bool operator==(const FakeException&) const = default;
};

// Something the guest of one VP does next, played before it executes more code.
struct FakeGuestEvent {
  enum class Kind : uint8_t {
    kRawMessage,   // RUN_VP returns `message` verbatim (for malformed-message tests)
    kApicEoi,      // the guest ends level-triggered `vector`
    kHalt,         // HLT with interrupts off: the hypervisor reports X64_HALT
    kTripleFault,  // UNRECOVERABLE_EXCEPTION
    kMmioWrite,  // a `size`-byte write of `value` to `gpa` (an ioeventfd doorbell or an intercept)
  };
  Kind kind = Kind::kHalt;
  std::vector<uint8_t> message;
  uint8_t vector = 0;
  uint64_t gpa = 0;
  uint32_t size = 0;
  uint64_t value = 0;

  static FakeGuestEvent raw(std::vector<uint8_t> bytes) {
    FakeGuestEvent e;
    e.kind = Kind::kRawMessage;
    e.message = std::move(bytes);
    return e;
  }
  static FakeGuestEvent eoi(uint8_t vector) {
    FakeGuestEvent e;
    e.kind = Kind::kApicEoi;
    e.vector = vector;
    return e;
  }
  static FakeGuestEvent halt() { return {}; }
  static FakeGuestEvent triple_fault() {
    FakeGuestEvent e;
    e.kind = Kind::kTripleFault;
    return e;
  }
  static FakeGuestEvent mmio_write(uint64_t gpa, uint32_t size, uint64_t value) {
    FakeGuestEvent e;
    e.kind = Kind::kMmioWrite;
    e.gpa = gpa;
    e.size = size;
    e.value = value;
    return e;
  }
};

// One ioctl as the fake saw it: "MSHV_IRQFD", or "HvCallSetVpRegisters" for a hypercall, and its
// result (0 or more on success, -errno).
struct FakeCall {
  std::string name;
  int result = 0;
};

}  // namespace ferry::test

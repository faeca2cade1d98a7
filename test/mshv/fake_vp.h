// The state of one fake VP as the hypervisor keeps it: every register by name, the register page
// shared with the VMM (applied on entry when valid and dirty, refilled on every intercept), the
// LAPIC state page, the CPUID results registered for it, and the guest events queued for it.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "fake_guest_memory.h"
#include "fake_mshv_types.h"
#include "ferry/base/event_fd.h"
#include "ferry/base/mapping.h"
#include "ferry/base/unique_fd.h"
#include "ferry/mshv/hv_abi.h"

namespace ferry::test {

class FakeVp {
 public:
  /// A VP in its reset state. `register_page` is the fake's own mapping of the page the VMM maps
  /// at offset 0 of the VP fd.
  FakeVp(unsigned index, Mapping register_page, EventFd wake);

  unsigned index() const { return index_; }

  /// Registers by hypervisor name; nullopt for a name the hypervisor does not know.
  std::optional<mshv::HvRegisterValue> get(uint32_t name) const;
  bool set(uint32_t name, const mshv::HvRegisterValue& value);
  uint64_t reg(uint32_t name) const { return registers_.at(name).low; }
  void set_reg(uint32_t name, uint64_t value) { registers_[name] = {value, 0}; }
  mshv::HvX64SegmentRegister segment(uint32_t name) const;
  FakePagingState paging() const;

  mshv::HvVpRegisterPage& page() const {
    return *reinterpret_cast<mshv::HvVpRegisterPage*>(pages_.data());
  }
  /// On entry: the classes the VMM marked dirty in a valid page become the VP's registers.
  void take_register_page();
  /// On an intercept: the page shows the VP's registers and becomes valid.
  void fill_register_page();

  uint8_t* lapic_page() { return lapic_.data(); }

  void set_cpuid_result(const mshv::HvCpuidResultParameters& params);
  /// What CPUID(leaf, subleaf) returns in this VP: the host's value with the registered results
  /// applied through their masks.
  mshv::CpuidRegs cpuid(const mshv::CpuidRegs& host, uint32_t leaf, uint32_t subleaf) const;

  std::deque<FakeGuestEvent>& events() { return events_; }
  std::vector<FakeException>& exceptions() { return exceptions_; }
  const EventFd& wake() const { return wake_; }
  bool executing = false;  // the guest executes the code at RIP when no event is queued

 private:
  void reset_registers();

  unsigned index_;
  Mapping pages_;  // the memfd's first page: the register page
  EventFd wake_;
  std::map<uint32_t, mshv::HvRegisterValue> registers_;
  std::array<uint8_t, 4096> lapic_{};
  std::map<std::pair<uint32_t, uint32_t>, mshv::HvCpuidResultParameters> cpuid_;  // by leaf,
                                                                                  // subleaf
  std::deque<FakeGuestEvent> events_;
  std::vector<FakeException> exceptions_;  // delivered so far
};

}  // namespace ferry::test

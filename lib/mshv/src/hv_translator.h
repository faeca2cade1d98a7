// lib/x86's linear-to-physical translation on MSHV: the hypervisor walks the guest's page tables
// (HvCallTranslateVirtualAddress), except for the page the intercept message already resolved.
// Its result codes become page faults with the error code the CPU would push. Bound per
// intercept; a few translations are kept for the rest of the instruction (a REP between RAM and
// MMIO asks for the same two pages thousands of times), as a TLB would.
#pragma once

#include <array>
#include <cstdint>

#include "ferry/mshv/mmio_emulator.h"
#include "ferry/mshv/vp_context.h"
#include "ferry/x86/translator.h"

namespace ferry::mshv {

class HvTranslator final : public x86::Translator {
 public:
  /// The VP and the message of the intercept being emulated; forgets earlier translations.
  void bind(VpContext& vp, const MemoryIntercept& intercept);

  Expected<x86::Translation> translate(const x86::CpuState& state, uint64_t linear,
                                       x86::AccessIntent intent) override;

 private:
  struct Entry {
    bool valid = false;
    uint64_t page = 0;
    uint64_t flags = 0;
    x86::Translation translation;
  };
  // The message's own translation of the intercepted page, when it answers `intent`.
  bool from_message(uint64_t page, x86::AccessIntent intent, uint64_t& gpa_page) const;
  Expected<x86::Translation> hypercall(const x86::CpuState& state, uint64_t page, uint64_t flags,
                                       x86::AccessIntent intent);

  VpContext* vp_ = nullptr;
  const MemoryIntercept* intercept_ = nullptr;
  std::array<Entry, 4> cache_{};
  unsigned next_ = 0;
};

}  // namespace ferry::mshv

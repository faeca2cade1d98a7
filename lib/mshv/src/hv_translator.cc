#include "hv_translator.h"

#include "ferry/mshv/mshv_abi.h"
#include "ferry/x86/fault.h"

namespace ferry::mshv {
namespace {

constexpr uint64_t kPageMask = ~(kHvPageSize - 1);

// The error code bits that depend on the access, not on why the walk failed. The CPU reports an
// instruction fetch (I/D) only when NX or SMEP make fetches distinguishable.
uint32_t access_bits(const x86::CpuState& state, x86::AccessIntent intent) {
  const accel::SpecialRegs& s = state.sregs;
  const bool nx_paging = (s.efer & accel::kEferLma) != 0 || (s.cr4 & accel::kCr4Pae) != 0;
  const bool fetch_bit =
      ((s.efer & x86::kEferNxe) != 0 && nx_paging) || (s.cr4 & x86::kCr4Smep) != 0;
  uint32_t code = 0;
  if (intent.write) code |= x86::kPfWrite;
  if (intent.user) code |= x86::kPfUser;
  if (intent.fetch && fetch_bit) code |= x86::kPfFetch;
  return code;
}

}  // namespace

void HvTranslator::bind(VpContext& vp, const MemoryIntercept& intercept) {
  vp_ = &vp;
  intercept_ = &intercept;
  for (Entry& e : cache_) e.valid = false;
}

bool HvTranslator::from_message(uint64_t page, x86::AccessIntent intent, uint64_t& gpa_page) const {
  if (!intercept_->gva || !intercept_->gpa || (*intercept_->gva & kPageMask) != page) return false;
  // The hypervisor checked the page for the access it intercepted: a write covers reads too, an
  // instruction fetch only fetches.
  const uint8_t access = intercept_->access_type;
  const bool covered = intent.fetch   ? access == kHvAccessExecute
                       : intent.write ? access == kHvAccessWrite
                                      : access == kHvAccessRead || access == kHvAccessWrite;
  if (!covered) return false;
  gpa_page = *intercept_->gpa & kPageMask;
  return true;
}

Expected<x86::Translation> HvTranslator::translate(const x86::CpuState& state, uint64_t linear,
                                                   x86::AccessIntent intent) {
  if ((state.sregs.cr0 & accel::kCr0Pg) == 0) {
    return x86::Translation{.ok = true, .gpa = linear & 0xffffffffull, .error_code = 0};
  }
  const uint64_t page = linear & kPageMask;
  const uint64_t offset = linear & ~kPageMask;
  uint64_t gpa_page = 0;
  if (from_message(page, intent, gpa_page)) {
    return x86::Translation{.ok = true, .gpa = gpa_page | offset, .error_code = 0};
  }
  // Validate what the access does, as the CPU privilege it runs at, and set the accessed and
  // dirty bits the CPU would have set.
  const uint64_t flags = (intent.fetch   ? kTranslateValidateExecute
                          : intent.write ? kTranslateValidateWrite
                                         : kTranslateValidateRead) |
                         (intent.user ? kTranslateUserAccess : kTranslateSupervisorAccess) |
                         kTranslateSetPageTableBits;
  for (const Entry& e : cache_) {
    if (e.valid && e.page == page && e.flags == flags) {
      x86::Translation t = e.translation;
      if (t.ok) t.gpa |= offset;
      return t;
    }
  }
  FERRY_ASSIGN(x86::Translation t, hypercall(state, page, flags, intent));
  cache_[next_] = {true, page, flags, t};
  next_ = (next_ + 1) % cache_.size();
  if (t.ok) t.gpa |= offset;
  return t;
}

Expected<x86::Translation> HvTranslator::hypercall(const x86::CpuState& state, uint64_t page,
                                                   uint64_t flags, x86::AccessIntent intent) {
  FERRY_ASSIGN(const HvOutputTranslateVirtualAddress out, vp_->translate_gva(page, flags));
  if (hv_translation_reached_gpa(out.result_code)) {
    return x86::Translation{.ok = true, .gpa = out.gpa_page * kHvPageSize, .error_code = 0};
  }
  const uint32_t code = access_bits(state, intent);
  switch (out.result_code) {
    case kTranslatePageNotPresent:
      return x86::Translation{.ok = false, .gpa = 0, .error_code = code};
    case kTranslatePrivilegeViolation:
      return x86::Translation{.ok = false, .gpa = 0, .error_code = code | x86::kPfPresent};
    case kTranslateInvalidPageTableFlags:
      return x86::Translation{
          .ok = false, .gpa = 0, .error_code = code | x86::kPfPresent | x86::kPfReserved};
    default:
      return fail(Errc::kUnsupported,
                  "translating linear address {:#x} on VP {}: the hypervisor answered {} (result "
                  "code {}), which ferry cannot turn into a guest exception",
                  page, vp_->vp_index(), hv_translate_result_name(out.result_code),
                  out.result_code);
  }
}

}  // namespace ferry::mshv

// Linear-to-physical translation. The emulator's PageWalker walks the guest page tables through
// Platform::read_ram; a backend may supply its own (MSHV's translate-virtual-address hypercall,
// or the GPA its intercept message already carries for the faulting page).
#pragma once

#include <cstdint>

#include "ferry/base/error.h"
#include "ferry/x86/cpu_state.h"

namespace ferry::x86 {

struct AccessIntent {
  bool write = false;
  bool fetch = false;
  bool user = false;  // a CPL 3 access (user/supervisor checks, SMAP, SMEP)
};

struct Translation {
  bool ok = false;          // false: a page fault with error_code
  uint64_t gpa = 0;         // the physical address of the linear address (ok only)
  uint32_t error_code = 0;  // the #PF error code (kPf* of fault.h)
};

class Translator {
 public:
  virtual ~Translator() = default;
  /// Translates one linear address for `intent` under the paging mode of `state`. Errors are
  /// for failures of the machinery (page tables outside RAM), not for page faults.
  virtual Expected<Translation> translate(const CpuState& state, uint64_t linear,
                                          AccessIntent intent) = 0;
};

}  // namespace ferry::x86

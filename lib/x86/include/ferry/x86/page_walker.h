// The guest page walk in software: no paging, 32-bit paging (with 4 MiB pages), PAE, and 4- and
// 5-level long-mode paging, with the permission checks of the SDM and accessed/dirty updates.
#pragma once

#include "ferry/x86/platform.h"
#include "ferry/x86/translator.h"

namespace ferry::x86 {

class PageWalker final : public Translator {
 public:
  explicit PageWalker(Platform& platform) : platform_(platform) {}

  Expected<Translation> translate(const CpuState& state, uint64_t linear,
                                  AccessIntent intent) override;

 private:
  Platform& platform_;
};

}  // namespace ferry::x86

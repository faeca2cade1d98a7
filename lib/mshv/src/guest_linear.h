// Guest memory by linear address during one intercept: each page is translated once (by the
// guest's page tables when paging is on) and accesses that straddle pages are split. Outside
// 64-bit mode linear addresses wrap at 4 GiB, also between the pieces of one access.
#pragma once

#include <cstdint>
#include <span>

#include "ferry/base/error.h"
#include "ferry/mshv/mshv_abi.h"
#include "ferry/mshv/vp_context.h"

namespace ferry::mshv {

class GuestLinear {
 public:
  /// linear_mask: all ones in 64-bit mode, 0xffffffff otherwise.
  GuestLinear(VpContext& vp, uint64_t linear_mask) : vp_(vp), linear_mask_(linear_mask) {}

  Expected<void> read(uint64_t linear, std::span<uint8_t> data, uint64_t validate);
  Expected<void> write(uint64_t linear, std::span<const uint8_t> data);
  /// Reads up to data.size() bytes of code at `linear`, stopping at the first page that does not
  /// translate or is not RAM; how many were read (0 when even the first byte failed).
  size_t fetch(uint64_t linear, std::span<uint8_t> data);

 private:
  Expected<uint64_t> gpa_of(uint64_t linear, uint64_t validate);
  // Calls access(gpa, offset, length) for each piece of [linear, linear + length) within one
  // page; `done` counts the bytes accessed, also when a piece fails.
  template <class Access>
  Expected<void> each_page(uint64_t linear, size_t length, uint64_t validate, size_t& done,
                           Access access);
  Expected<void> read_prefix(uint64_t linear, std::span<uint8_t> data, size_t& done);

  VpContext& vp_;
  uint64_t linear_mask_;
  uint64_t cached_page_ = ~uint64_t{0};
  uint64_t cached_validate_ = 0;
  uint64_t cached_gpa_page_ = 0;
};

}  // namespace ferry::mshv

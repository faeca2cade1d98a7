#include "guest_linear.h"

#include <algorithm>

namespace ferry::mshv {
namespace {

Expected<void> read_ram(VpContext& vp, uint64_t gpa, std::span<uint8_t> data) {
  if (vp.read_ram(gpa, data)) return {};
  return fail(Errc::kGuestFault, "guest-physical {:#x}+{:#x} is not guest RAM", gpa, data.size());
}

Expected<void> write_ram(VpContext& vp, uint64_t gpa, std::span<const uint8_t> data) {
  if (vp.write_ram(gpa, data)) return {};
  return fail(Errc::kGuestFault, "guest-physical {:#x}+{:#x} is not writable guest RAM", gpa,
              data.size());
}

}  // namespace

Expected<uint64_t> GuestLinear::gpa_of(uint64_t linear, uint64_t validate) {
  const uint64_t page = linear & ~(kHvPageSize - 1);
  if (page != cached_page_ || validate != cached_validate_) {
    FERRY_ASSIGN(uint64_t gpa, vp_.translate(page, validate));
    cached_page_ = page;
    cached_validate_ = validate;
    cached_gpa_page_ = gpa & ~(kHvPageSize - 1);
  }
  return cached_gpa_page_ | (linear & (kHvPageSize - 1));
}

template <class Access>
Expected<void> GuestLinear::each_page(uint64_t linear, size_t length, uint64_t validate,
                                      size_t& done, Access access) {
  while (done < length) {
    const uint64_t at = (linear + done) & linear_mask_;
    const size_t piece = std::min<uint64_t>(length - done, kHvPageSize - (at % kHvPageSize));
    FERRY_ASSIGN(uint64_t gpa, gpa_of(at, validate));
    FERRY_TRY(access(gpa, done, piece));
    done += piece;
  }
  return {};
}

Expected<void> GuestLinear::read(uint64_t linear, std::span<uint8_t> data, uint64_t validate) {
  size_t done = 0;
  return each_page(linear, data.size(), validate, done, [&](uint64_t gpa, size_t at, size_t n) {
    return read_ram(vp_, gpa, data.subspan(at, n));
  });
}

Expected<void> GuestLinear::write(uint64_t linear, std::span<const uint8_t> data) {
  size_t done = 0;
  return each_page(
      linear, data.size(), kTranslateValidateWrite, done,
      [&](uint64_t gpa, size_t at, size_t n) { return write_ram(vp_, gpa, data.subspan(at, n)); });
}

size_t GuestLinear::fetch(uint64_t linear, std::span<uint8_t> data) {
  size_t done = 0;
  (void)read_prefix(linear, data, done);
  return done;
}

Expected<void> GuestLinear::read_prefix(uint64_t linear, std::span<uint8_t> data, size_t& done) {
  return each_page(
      linear, data.size(), kTranslateValidateExecute, done,
      [&](uint64_t gpa, size_t at, size_t n) { return read_ram(vp_, gpa, data.subspan(at, n)); });
}

}  // namespace ferry::mshv

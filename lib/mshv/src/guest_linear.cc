#include "guest_linear.h"

#include <algorithm>

namespace ferry::mshv {

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

Expected<void> GuestLinear::read(uint64_t linear, std::span<uint8_t> data, uint64_t validate) {
  size_t done = 0;
  while (done < data.size()) {
    const uint64_t at = linear + done;
    const size_t piece = std::min<uint64_t>(data.size() - done, kHvPageSize - (at % kHvPageSize));
    FERRY_ASSIGN(uint64_t gpa, gpa_of(at, validate));
    FERRY_TRY(vp_.read_memory(gpa, data.subspan(done, piece)));
    done += piece;
  }
  return {};
}

Expected<void> GuestLinear::write(uint64_t linear, std::span<const uint8_t> data) {
  size_t done = 0;
  while (done < data.size()) {
    const uint64_t at = linear + done;
    const size_t piece = std::min<uint64_t>(data.size() - done, kHvPageSize - (at % kHvPageSize));
    FERRY_ASSIGN(uint64_t gpa, gpa_of(at, kTranslateValidateWrite));
    FERRY_TRY(vp_.write_memory(gpa, data.subspan(done, piece)));
    done += piece;
  }
  return {};
}

size_t GuestLinear::fetch(uint64_t linear, std::span<uint8_t> data) {
  size_t done = 0;
  while (done < data.size()) {
    const uint64_t at = linear + done;
    const size_t piece = std::min<uint64_t>(data.size() - done, kHvPageSize - (at % kHvPageSize));
    auto gpa = gpa_of(at, kTranslateValidateExecute);
    if (!gpa || !vp_.read_memory(*gpa, data.subspan(done, piece))) break;
    done += piece;
  }
  return done;
}

}  // namespace ferry::mshv

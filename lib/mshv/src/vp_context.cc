#include "ferry/mshv/vp_context.h"

#include <array>
#include <cstring>

#include "ferry/mshv/mshv_abi.h"

namespace ferry::mshv {
namespace {

constexpr size_t kMaxNamesPerAccess = 32;
constexpr uint64_t kCr0Pg = 1ull << 31;

}  // namespace

Expected<void> VpContext::read_registers(std::span<const uint32_t> names,
                                         std::span<uint64_t> values) {
  if (names.size() > kMaxNamesPerAccess || values.size() < names.size()) {
    return fail(Errc::kInternal, "read_registers: {} names, {} values", names.size(),
                values.size());
  }
  std::array<HvRegisterValue, kMaxNamesPerAccess> full{};
  FERRY_TRY(read_values(names, {full.data(), names.size()}));
  for (size_t i = 0; i < names.size(); ++i) values[i] = full[i].low;
  return {};
}

Expected<void> VpContext::write_registers(std::span<const uint32_t> names,
                                          std::span<const uint64_t> values) {
  if (names.size() > kMaxNamesPerAccess || values.size() != names.size()) {
    return fail(Errc::kInternal, "write_registers: {} names, {} values", names.size(),
                values.size());
  }
  std::array<HvRegisterValue, kMaxNamesPerAccess> full{};
  for (size_t i = 0; i < names.size(); ++i) full[i] = {values[i], 0};
  return write_values(names, {full.data(), names.size()});
}

Expected<HvX64SegmentRegister> VpContext::segment(uint32_t name) {
  const uint32_t names[] = {name};
  HvRegisterValue value{};
  FERRY_TRY(read_values(names, {&value, 1}));
  HvX64SegmentRegister segment;
  std::memcpy(&segment, &value, sizeof segment);
  return segment;
}

Expected<uint64_t> VpContext::translate(uint64_t linear, uint64_t validate) {
  const uint32_t names[] = {kHvRegCr0};
  uint64_t cr0 = 0;
  FERRY_TRY(read_registers(names, {&cr0, 1}));
  if (!(cr0 & kCr0Pg)) return linear;  // no paging: linear is physical
  // The access that follows is the guest's own: the walk sets accessed and dirty bits for it.
  FERRY_ASSIGN(HvOutputTranslateVirtualAddress out,
               translate_gva(linear, validate | kTranslateSetPageTableBits));
  if (!hv_translation_reached_gpa(out.result_code)) {
    return fail(Errc::kGuestFault,
                "the guest's page tables do not give access to linear address {:#x} (translation "
                "result {}); injecting the page fault is not supported here",
                linear, hv_translate_result_name(out.result_code));
  }
  return out.gpa_page * kHvPageSize + linear % kHvPageSize;
}

}  // namespace ferry::mshv

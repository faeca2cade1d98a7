#include "hvcall.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "ferry/mshv/mshv_abi.h"
#include "ioctl_error.h"

namespace ferry::mshv {
namespace {

// Older drivers deposit memory into the partition on HV_STATUS_INSUFFICIENT_MEMORY and answer
// EAGAIN; the call is then retried. A bound keeps a broken host from spinning forever.
constexpr int kMaxDepositRetries = 64;

// A hypercall page, aligned for the structures laid over it.
struct alignas(16) HvPage {
  std::array<uint8_t, kHvcallMaxInput> bytes{};
  template <class T>
  T& at(size_t offset) {
    return *reinterpret_cast<T*>(bytes.data() + offset);
  }
};

}  // namespace

Expected<void> Hvcall::call(uint16_t code, uint16_t reps, std::span<const uint8_t> in,
                            std::span<uint8_t> out) const {
  MshvRootHvcall args{};
  for (int attempt = 0;; ++attempt) {
    args = {};
    args.code = code;
    args.reps = reps;
    args.in_sz = static_cast<uint16_t>(in.size());
    args.out_sz = static_cast<uint16_t>(out.size());
    args.in_ptr = reinterpret_cast<uint64_t>(in.data());
    args.out_ptr = out.empty() ? 0 : reinterpret_cast<uint64_t>(out.data());
    int r = driver_.ioctl(fd_, kMshvRootHvcall, &args);
    if (r == -EAGAIN && attempt < kMaxDepositRetries) continue;
    if (r >= 0) break;
    if (args.status == kHvStatusSuccess)
      return fail(ioctl_error(-r, kMshvRootHvcall, hvcall_name(code)));
    return fail(Error(Error::from_errno(-r, "").code(),
                      fmt::format("{}: the hypervisor answered {} ({:#x}); errno {}",
                                  hvcall_name(code), hv_status_name(args.status), args.status, -r),
                      -r));
  }
  if (reps != 0 && args.reps != reps) {
    return fail(Errc::kIo, "{}: the hypervisor completed {} of {} repetitions", hvcall_name(code),
                args.reps, reps);
  }
  return {};
}

Expected<uint64_t> Hvcall::get_partition_property(uint32_t property) const {
  HvInputGetPartitionProperty in{};
  in.property_code = property;
  uint64_t value = 0;
  auto got =
      call(kHvCallGetPartitionProperty, 0, {reinterpret_cast<const uint8_t*>(&in), sizeof in},
           {reinterpret_cast<uint8_t*>(&value), sizeof value});
  if (!got) return fail(got.error().context(fmt::format("partition property {:#x}", property)));
  return value;
}

Expected<void> Hvcall::set_partition_property(uint32_t property, uint64_t value) const {
  HvInputSetPartitionProperty in{};
  in.property_code = property;
  in.property_value = value;
  auto set =
      call(kHvCallSetPartitionProperty, 0, {reinterpret_cast<const uint8_t*>(&in), sizeof in}, {});
  if (!set) {
    return fail(set.error().context(fmt::format("setting partition property {:#x}", property)));
  }
  return {};
}

Expected<void> Hvcall::get_vp_registers(uint32_t vp, std::span<const uint32_t> names,
                                        std::span<HvRegisterValue> values) const {
  if (values.size() < names.size()) {
    return fail(Errc::kInternal, "get_vp_registers: {} names but room for {} values", names.size(),
                values.size());
  }
  HvPage in;
  for (size_t done = 0; done < names.size();) {
    const size_t n = std::min<size_t>(names.size() - done, kMaxRegistersPerGet);
    auto& header = in.at<HvInputGetVpRegisters>(0);
    header = {};
    header.vp_index = vp;
    std::memcpy(in.bytes.data() + sizeof header, names.data() + done, n * sizeof(uint32_t));
    auto got =
        call(kHvCallGetVpRegisters, static_cast<uint16_t>(n),
             {in.bytes.data(), sizeof header + n * sizeof(uint32_t)},
             {reinterpret_cast<uint8_t*>(values.data() + done), n * sizeof(HvRegisterValue)});
    if (!got) return fail(got.error().context(fmt::format("VP {}", vp)));
    done += n;
  }
  return {};
}

Expected<void> Hvcall::set_vp_registers(uint32_t vp, std::span<const uint32_t> names,
                                        std::span<const HvRegisterValue> values) const {
  if (values.size() != names.size()) {
    return fail(Errc::kInternal, "set_vp_registers: {} names but {} values", names.size(),
                values.size());
  }
  HvPage in;
  for (size_t done = 0; done < names.size();) {
    const size_t n = std::min<size_t>(names.size() - done, kMaxRegistersPerSet);
    in.bytes.fill(0);
    in.at<HvInputGetVpRegisters>(0).vp_index = vp;
    for (size_t i = 0; i < n; ++i) {
      auto& assoc =
          in.at<HvRegisterAssoc>(sizeof(HvInputGetVpRegisters) + i * sizeof(HvRegisterAssoc));
      assoc.name = names[done + i];
      assoc.value = values[done + i];
    }
    auto set =
        call(kHvCallSetVpRegisters, static_cast<uint16_t>(n),
             {in.bytes.data(), sizeof(HvInputGetVpRegisters) + n * sizeof(HvRegisterAssoc)}, {});
    if (!set) return fail(set.error().context(fmt::format("VP {}", vp)));
    done += n;
  }
  return {};
}

Expected<HvOutputTranslateVirtualAddress> Hvcall::translate_gva(uint32_t vp, uint64_t gva,
                                                                uint64_t flags) const {
  HvInputTranslateVirtualAddress in{};
  in.vp_index = vp;
  in.control_flags = flags;
  in.gva_page = gva / kHvPageSize;
  HvOutputTranslateVirtualAddress out{};
  auto got =
      call(kHvCallTranslateVirtualAddress, 0, {reinterpret_cast<const uint8_t*>(&in), sizeof in},
           {reinterpret_cast<uint8_t*>(&out), sizeof out});
  if (!got) {
    return fail(got.error().context(fmt::format("translating GVA {:#x} on VP {}", gva, vp)));
  }
  return out;
}

Expected<void> Hvcall::register_cpuid_result(uint32_t vp,
                                             const HvCpuidResultParameters& params) const {
  HvInputRegisterInterceptResult in{};
  in.vp_index = vp;
  in.intercept_type = kHvInterceptX64Cpuid;
  in.cpuid = params;
  auto set = call(kHvCallRegisterInterceptResult, 0,
                  {reinterpret_cast<const uint8_t*>(&in), sizeof in}, {});
  if (!set) {
    return fail(set.error().context(fmt::format("CPUID leaf {:#x} subleaf {} on VP {}",
                                                params.input_eax, params.input_ecx, vp)));
  }
  return {};
}

}  // namespace ferry::mshv

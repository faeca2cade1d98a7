#include "fake_partition.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ferry::test {

using namespace mshv;

namespace {

// The hypercalls mshv_root passes through (mshv_passthru_hvcalls[]).
constexpr uint16_t kPassthrough[] = {
    kHvCallGetPartitionProperty,    kHvCallSetPartitionProperty,    kHvCallInstallIntercept,
    kHvCallGetVpRegisters,          kHvCallSetVpRegisters,          kHvCallTranslateVirtualAddress,
    kHvCallClearVirtualInterrupt,   kHvCallRegisterInterceptResult, kHvCallAssertVirtualInterrupt,
    kHvCallGetGpaPagesAccessStates, kHvCallSignalEventDirect,       kHvCallPostMessageDirect,
    kHvCallGetVpCpuidValues};

// hv_result_to_errno() for the statuses the fake produces.
int errno_of(uint16_t status) {
  switch (status) {
    case kHvStatusSuccess:
      return 0;
    case kHvStatusInvalidHypercallCode:
    case kHvStatusInvalidHypercallInput:
    case kHvStatusInvalidParameter:
    case kHvStatusInvalidPartitionId:
    case kHvStatusInvalidVpIndex:
    case kHvStatusInvalidRegisterValue:
      return -EINVAL;
    case kHvStatusInsufficientMemory:
      return -ENOMEM;
    default:
      return -EIO;
  }
}

template <class T>
T load(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

}  // namespace

int FakePartition::check_new_vp(uint32_t index) const {
  if (index >= kMshvMaxVps) return -EINVAL;
  if (vps_[index]) return -EEXIST;
  if (!initialized_) return -EIO;  // HvCallCreateVp: HV_STATUS_INVALID_PARTITION_STATE
  return 0;
}

std::optional<uint64_t> FakePartition::property(uint32_t code) const {
  auto it = properties_.find(code);
  if (it == properties_.end()) return std::nullopt;
  return it->second;
}

int FakePartition::hypercall(MshvRootHvcall& args, const FakeVp* from_vp, int& insufficient_memory,
                             std::string& detail) {
  // mshv_ioctl_passthru_hvcall()'s checks.
  bool rsvd = false;
  for (uint8_t b : args.rsvd) rsvd |= b != 0;
  if (args.status != 0 || args.in_ptr == 0 || args.in_sz < sizeof(uint64_t) || rsvd ||
      args.in_sz > kHvcallMaxInput) {
    return -EINVAL;
  }
  if (args.out_ptr != 0 && (args.out_sz == 0 || args.out_sz > kHvcallMaxInput)) return -EINVAL;
  if (std::find(std::begin(kPassthrough), std::end(kPassthrough), args.code) ==
      std::end(kPassthrough)) {
    return -EINVAL;
  }
  // Asynchronous hypercalls only from the partition fd.
  if (args.code == kHvCallSetPartitionProperty && from_vp != nullptr) return -EINVAL;

  std::array<uint8_t, kHvcallMaxInput> in{}, out{};
  std::memcpy(in.data(), reinterpret_cast<const void*>(args.in_ptr), args.in_sz);
  std::memcpy(in.data(), &id_, sizeof id_);  // the kernel fills in the partition id
  Result result;
  if (insufficient_memory > 0) {
    // An older driver deposits a page and answers EAGAIN; the VMM calls again.
    --insufficient_memory;
    result.status = kHvStatusInsufficientMemory;
  } else {
    result = dispatch(args, in.data(), out.data(), detail);
  }
  args.status = result.status;
  args.reps = args.reps ? result.reps_done : 0;
  if (args.out_ptr != 0)
    std::memcpy(reinterpret_cast<void*>(args.out_ptr), out.data(), args.out_sz);
  if (result.status == kHvStatusInsufficientMemory) return -EAGAIN;
  return errno_of(result.status);
}

FakePartition::Result FakePartition::dispatch(const MshvRootHvcall& args, const uint8_t* in,
                                              uint8_t* out, std::string& detail) {
  switch (args.code) {
    case kHvCallGetPartitionProperty:
      return get_property(in, args.in_sz, out, args.out_ptr ? args.out_sz : 0);
    case kHvCallSetPartitionProperty:
      return set_property(in, args.in_sz, detail);
    case kHvCallGetVpRegisters:
      return get_registers(args, in, out);
    case kHvCallSetVpRegisters:
      return set_registers(args, in);
    case kHvCallTranslateVirtualAddress:
      return translate(in, args.in_sz, out, args.out_ptr ? args.out_sz : 0);
    case kHvCallRegisterInterceptResult:
      return register_intercept_result(in, args.in_sz);
    default:
      ADD_FAILURE() << "fake mshv: " << hvcall_name(args.code) << " is not modeled";
      return {kHvStatusInvalidHypercallCode, 0};
  }
}

FakePartition::Result FakePartition::get_property(const uint8_t* in, size_t in_sz, uint8_t* out,
                                                  size_t out_sz) {
  if (in_sz < sizeof(HvInputGetPartitionProperty) || out_sz < sizeof(uint64_t)) {
    return {kHvStatusInvalidHypercallInput, 0};
  }
  auto input = load<HvInputGetPartitionProperty>(in);
  auto value = property(input.property_code);
  if (!value) return {kHvStatusUnknownProperty, 0};
  std::memcpy(out, &*value, sizeof *value);
  return {};
}

FakePartition::Result FakePartition::set_property(const uint8_t* in, size_t in_sz,
                                                  std::string& detail) {
  if (in_sz < sizeof(HvInputSetPartitionProperty)) return {kHvStatusInvalidHypercallInput, 0};
  auto input = load<HvInputSetPartitionProperty>(in);
  detail = fmt::format(" {:#x}={:#x}", input.property_code, input.property_value);
  switch (input.property_code) {
    case kHvPropertySyntheticProcFeatures:
      // An early property: only between creation and initialization.
      if (initialized_) return {kHvStatusInvalidPartitionState, 0};
      break;
    case kHvPropertyTimeFreeze:
    case kHvPropertyUnimplementedMsrAction:
      if (!initialized_) return {kHvStatusInvalidPartitionState, 0};
      if (input.property_value > 1) return {kHvStatusPropertyValueOutOfRange, 0};
      break;
    default:
      return {kHvStatusUnknownProperty, 0};
  }
  properties_[input.property_code] = input.property_value;
  writes_.emplace_back(input.property_code, input.property_value);
  return {};
}

FakePartition::Result FakePartition::get_registers(const MshvRootHvcall& args, const uint8_t* in,
                                                   uint8_t* out) {
  if (!initialized_) return {kHvStatusInvalidPartitionState, 0};
  const size_t n = args.reps;
  if (n == 0 || args.in_sz != sizeof(HvInputGetVpRegisters) + 4 * n || args.out_ptr == 0 ||
      args.out_sz < 16 * n) {
    return {kHvStatusInvalidHypercallInput, 0};
  }
  auto header = load<HvInputGetVpRegisters>(in);
  if (header.input_vtl != 0 || header.rsvd_z8 != 0 || header.rsvd_z16 != 0) {
    return {kHvStatusInvalidParameter, 0};
  }
  const FakeVp* target = vp(header.vp_index);
  if (target == nullptr) return {kHvStatusInvalidVpIndex, 0};
  for (size_t i = 0; i < n; ++i) {
    auto value = target->get(load<uint32_t>(in + sizeof header + 4 * i));
    if (!value) return {kHvStatusInvalidParameter, static_cast<uint16_t>(i)};
    std::memcpy(out + 16 * i, &*value, 16);
  }
  return {kHvStatusSuccess, static_cast<uint16_t>(n)};
}

FakePartition::Result FakePartition::set_registers(const MshvRootHvcall& args, const uint8_t* in) {
  if (!initialized_) return {kHvStatusInvalidPartitionState, 0};
  const size_t n = args.reps;
  if (n == 0 || args.in_sz != sizeof(HvInputGetVpRegisters) + sizeof(HvRegisterAssoc) * n) {
    return {kHvStatusInvalidHypercallInput, 0};
  }
  auto header = load<HvInputGetVpRegisters>(in);
  if (header.input_vtl != 0 || header.rsvd_z8 != 0 || header.rsvd_z16 != 0) {
    return {kHvStatusInvalidParameter, 0};
  }
  FakeVp* target = vp(header.vp_index);
  if (target == nullptr) return {kHvStatusInvalidVpIndex, 0};
  for (size_t i = 0; i < n; ++i) {
    auto assoc = load<HvRegisterAssoc>(in + sizeof header + sizeof(HvRegisterAssoc) * i);
    if (assoc.reserved1 != 0 || assoc.reserved2 != 0 || !target->set(assoc.name, assoc.value)) {
      return {kHvStatusInvalidParameter, static_cast<uint16_t>(i)};
    }
  }
  return {kHvStatusSuccess, static_cast<uint16_t>(n)};
}

FakePartition::Result FakePartition::translate(const uint8_t* in, size_t in_sz, uint8_t* out,
                                               size_t out_sz) {
  if (in_sz < sizeof(HvInputTranslateVirtualAddress) ||
      out_sz < sizeof(HvOutputTranslateVirtualAddress)) {
    return {kHvStatusInvalidHypercallInput, 0};
  }
  auto input = load<HvInputTranslateVirtualAddress>(in);
  const FakeVp* target = vp(input.vp_index);
  if (target == nullptr) return {kHvStatusInvalidVpIndex, 0};
  auto [code, gpa] =
      memory_.translate(target->paging(), input.gva_page * kHvPageSize, input.control_flags);
  HvOutputTranslateVirtualAddress output{};
  output.result_code = code;
  output.gpa_page = gpa / kHvPageSize;
  std::memcpy(out, &output, sizeof output);
  return {};
}

FakePartition::Result FakePartition::register_intercept_result(const uint8_t* in, size_t in_sz) {
  if (in_sz < sizeof(HvInputRegisterInterceptResult)) return {kHvStatusInvalidHypercallInput, 0};
  auto input = load<HvInputRegisterInterceptResult>(in);
  FakeVp* target = vp(input.vp_index);
  if (target == nullptr) return {kHvStatusInvalidVpIndex, 0};
  if (input.intercept_type != kHvInterceptX64Cpuid) {
    ADD_FAILURE() << "fake mshv: intercept results of type " << input.intercept_type
                  << " are not modeled";
    return {kHvStatusInvalidParameter, 0};
  }
  if (input.cpuid.subleaf_specific > 1 || input.cpuid.always_override > 1 ||
      input.cpuid.padding != 0) {
    return {kHvStatusInvalidParameter, 0};
  }
  target->set_cpuid_result(input.cpuid);
  return {};
}

}  // namespace ferry::test

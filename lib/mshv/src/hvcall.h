// Hypercalls through MSHV_ROOT_HVCALL on one partition or VP fd, typed. Nothing here allocates
// unless it fails, so the vCPU run path may use it.
#pragma once

#include <cstdint>
#include <span>

#include "ferry/base/error.h"
#include "ferry/mshv/hv_abi.h"
#include "ferry/mshv/mshv_driver.h"

namespace ferry::mshv {

class Hvcall {
 public:
  Hvcall(MshvDriver& driver, int fd) : driver_(driver), fd_(fd) {}

  /// One hypercall. `in` starts with the partition id (the kernel fills it in); for a rep
  /// hypercall (reps > 0) every rep must complete.
  Expected<void> call(uint16_t code, uint16_t reps, std::span<const uint8_t> in,
                      std::span<uint8_t> out) const;

  Expected<uint64_t> get_partition_property(uint32_t property) const;
  /// Only on the partition fd (the kernel runs it asynchronously).
  Expected<void> set_partition_property(uint32_t property, uint64_t value) const;
  /// Reads values[i] of names[i] on VP `vp`, in as many hypercalls as the page size needs.
  Expected<void> get_vp_registers(uint32_t vp, std::span<const uint32_t> names,
                                  std::span<HvRegisterValue> values) const;
  Expected<void> set_vp_registers(uint32_t vp, std::span<const uint32_t> names,
                                  std::span<const HvRegisterValue> values) const;
  /// Walks the guest page tables of VP `vp` for the page of `gva`.
  Expected<HvOutputTranslateVirtualAddress> translate_gva(uint32_t vp, uint64_t gva,
                                                          uint64_t flags) const;
  Expected<void> register_cpuid_result(uint32_t vp, const HvCpuidResultParameters& params) const;

 private:
  MshvDriver& driver_;
  int fd_;
};

}  // namespace ferry::mshv

// A vCPU as intercept handling sees it while the VP is stopped on an intercept: registers by
// hypervisor name, address translation, and guest RAM. MshvVcpu implements it; the MMIO
// emulator seam (mmio_emulator.h) is given one.
#pragma once

#include <cstdint>
#include <span>

#include "ferry/base/error.h"
#include "ferry/mshv/hv_abi.h"

namespace ferry::mshv {

class VpContext {
 public:
  virtual ~VpContext() = default;

  /// The VP index (and initial APIC ID).
  virtual uint32_t vp_index() const = 0;
  /// values[i] = the 64-bit register names[i] (general, rip, rflags, control registers, efer);
  /// at most 32 names per call.
  virtual Expected<void> read_registers(std::span<const uint32_t> names,
                                        std::span<uint64_t> values) = 0;
  /// Sets the 64-bit registers (at most 32 per call); general registers, rip and rflags go
  /// through the register page when it is valid.
  virtual Expected<void> write_registers(std::span<const uint32_t> names,
                                         std::span<const uint64_t> values) = 0;
  virtual Expected<HvX64SegmentRegister> segment(uint32_t name) = 0;
  /// The guest-physical address of linear address `linear`, through the guest page tables when
  /// paging is on. `validate` is kTranslateValidate{Read,Write,Execute}. A linear address whose
  /// page maps to no guest RAM (MMIO) still translates.
  virtual Expected<uint64_t> translate(uint64_t linear, uint64_t validate) = 0;
  /// Copies guest RAM at guest-physical `gpa`; an error (never a partial copy) when any byte is not
  /// RAM.
  virtual Expected<void> read_memory(uint64_t gpa, std::span<uint8_t> data) = 0;
  virtual Expected<void> write_memory(uint64_t gpa, std::span<const uint8_t> data) = 0;
};

}  // namespace ferry::mshv

// A vCPU as intercept handling sees it while the VP is stopped on an intercept: registers by
// hypervisor name, address translation, and guest RAM. MshvVcpu implements it; the MMIO
// emulator seam (mmio_emulator.h) is given one. It is used only between an intercept and the
// next run, while the register page holds what the hypervisor filled in at that intercept.
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
  /// values[i] = register names[i] as the hypervisor stores it (segments and XMM registers use
  /// all 128 bits); at most 32 names per call. General registers, RIP, RFLAGS, the six segment
  /// registers, CR0, CR3, CR4, CR8 and EFER come from the register page while it is valid; the
  /// rest (or everything, without a valid page) by one hypercall.
  virtual Expected<void> read_values(std::span<const uint32_t> names,
                                     std::span<HvRegisterValue> values) = 0;
  /// Sets registers (at most 32 per call): general registers, RIP and RFLAGS through the register
  /// page when it is valid (marking their classes dirty), the rest by one hypercall.
  virtual Expected<void> write_values(std::span<const uint32_t> names,
                                      std::span<const HvRegisterValue> values) = 0;
  /// read_values() for 64-bit registers (general, rip, rflags, control registers, efer).
  Expected<void> read_registers(std::span<const uint32_t> names, std::span<uint64_t> values);
  /// write_values() for 64-bit registers.
  Expected<void> write_registers(std::span<const uint32_t> names, std::span<const uint64_t> values);
  Expected<HvX64SegmentRegister> segment(uint32_t name);

  /// HvCallTranslateVirtualAddress for the page of `gva` with `flags` (kTranslate*): the
  /// hypervisor's result code and GPA page, whatever the result. Errors only when the hypercall
  /// itself fails.
  virtual Expected<HvOutputTranslateVirtualAddress> translate_gva(uint64_t gva, uint64_t flags) = 0;
  /// The guest-physical address of linear address `linear`, through the guest page tables when
  /// paging is on, setting the accessed and dirty bits the access will need. `validate` is
  /// kTranslateValidate{Read,Write,Execute}. A linear address whose page maps to no guest RAM
  /// (MMIO), or to RAM without that access, still translates; a page fault is an error.
  Expected<uint64_t> translate(uint64_t linear, uint64_t validate);

  /// Copies guest RAM at guest-physical `gpa`; false, with nothing copied, when any byte is not
  /// RAM. Never allocates (the MMIO path asks it first for every access).
  virtual bool read_ram(uint64_t gpa, std::span<uint8_t> data) noexcept = 0;
  /// Stores into guest RAM; false, with nothing written, when any byte is not writable RAM.
  virtual bool write_ram(uint64_t gpa, std::span<const uint8_t> data) noexcept = 0;
};

}  // namespace ferry::mshv

#include "memory_intercept.h"

namespace ferry::mshv {

Expected<void> handle_memory_intercept(uint32_t message_type, const HvX64MemoryInterceptMessage& m,
                                       VpContext& vp, accel::GuestIo& io,
                                       MmioEmulator& emulator) noexcept {
  const auto& h = m.header;
  if (m.instruction_byte_count > sizeof m.instruction_bytes) {
    return fail(Errc::kGuestFault, "memory intercept at RIP {:#x} claims {} instruction bytes",
                h.rip, m.instruction_byte_count);
  }
  if (h.intercept_access_type > kHvAccessExecute) {
    return fail(Errc::kGuestFault, "memory intercept at RIP {:#x} with access type {}", h.rip,
                h.intercept_access_type);
  }
  if (h.execution_state & kExecInterruptionPending) {
    // The access was part of delivering an event (an IDT, GDT, TSS or stack in MMIO), not of the
    // instruction at RIP: there is no instruction to emulate.
    return fail(Errc::kUnsupported,
                "memory intercept at RIP {:#x} (GPA {:#x}) while the VP was delivering an "
                "interrupt or exception: the guest keeps a descriptor table or its stack in "
                "memory that is not RAM, which ferry cannot emulate",
                h.rip, m.guest_physical_address);
  }
  MemoryIntercept intercept;
  intercept.message_type = message_type;
  intercept.access_type = h.intercept_access_type;
  intercept.execution_state = h.execution_state;
  intercept.cs = h.cs;
  intercept.rip = h.rip;
  intercept.rflags = h.rflags;
  if (m.memory_access_info & kMemAccessGvaValid) intercept.gva = m.guest_virtual_address;
  if (m.memory_access_info & kMemAccessGvaGpaValid) intercept.gpa = m.guest_physical_address;
  intercept.instruction = {m.instruction_bytes, m.instruction_byte_count};
  return emulator.emulate(intercept, vp, io);
}

}  // namespace ferry::mshv

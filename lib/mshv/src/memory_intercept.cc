#include "memory_intercept.h"

#include <array>
#include <cstring>

#include "guest_linear.h"
#include "hex_bytes.h"

namespace ferry::mshv {

Expected<void> handle_memory_intercept(uint32_t message_type, const HvX64MemoryInterceptMessage& m,
                                       VpContext& vp, accel::GuestIo& io,
                                       MmioEmulator* emulator) noexcept {
  const auto& h = m.header;
  if (m.instruction_byte_count > sizeof m.instruction_bytes) {
    return fail(Errc::kGuestFault, "memory intercept at RIP {:#x} claims {} instruction bytes",
                h.rip, m.instruction_byte_count);
  }
  if (h.intercept_access_type > kHvAccessExecute) {
    return fail(Errc::kGuestFault, "memory intercept at RIP {:#x} with access type {}", h.rip,
                h.intercept_access_type);
  }
  MemoryIntercept intercept;
  intercept.message_type = message_type;
  intercept.access_type = h.intercept_access_type;
  intercept.execution_state = h.execution_state;
  intercept.cs = h.cs;
  intercept.rip = h.rip;
  intercept.rflags = h.rflags;
  if (m.memory_access_info & kMemAccessGvaValid) intercept.gva = m.guest_virtual_address;
  if (m.memory_access_info & kMemAccessGvaGpaValid) {
    intercept.gpa = m.guest_physical_address;
  } else if (intercept.gva) {
    const uint64_t validate = h.intercept_access_type == kHvAccessWrite ? kTranslateValidateWrite
                                                                        : kTranslateValidateRead;
    auto gpa = vp.translate(*intercept.gva, validate);
    if (!gpa) {
      return fail(Errc::kGuestFault, "memory intercept at RIP {:#x}: {}", h.rip,
                  gpa.error().message());
    }
    intercept.gpa = *gpa;
  } else {
    return fail(Errc::kGuestFault,
                "memory intercept at RIP {:#x} gives neither a guest-physical nor a virtual "
                "address",
                h.rip);
  }

  std::array<uint8_t, 16> bytes{};
  size_t count = m.instruction_byte_count;
  std::memcpy(bytes.data(), m.instruction_bytes, count);
  if (count == 0) {
    const bool long64 =
        (h.execution_state & kExecEferLma) && ((h.cs.attributes >> kSegLongShift) & 1);
    const uint64_t linear = long64 ? h.rip : (h.cs.base + h.rip) & 0xffffffff;
    GuestLinear memory(vp);
    count = memory.fetch(linear, bytes);
    if (count == 0) {
      return fail(Errc::kGuestFault,
                  "memory intercept at RIP {:#x} (GPA {:#x}): the instruction cannot be read",
                  h.rip, intercept.gpa);
    }
  }
  intercept.instruction = {bytes.data(), count};

  if (emulator == nullptr) {
    return fail(Errc::kUnsupported,
                "the guest accessed MMIO at GPA {:#x} ({} at RIP {:#x}, instruction bytes {}); on "
                "MSHV the VMM must emulate that instruction, and ferry's x86 emulator (lib/x86) is "
                "not integrated into the MSHV backend yet",
                intercept.gpa, h.intercept_access_type == kHvAccessWrite ? "write" : "read", h.rip,
                hex_bytes(intercept.instruction));
  }
  return emulator->emulate(intercept, vp, io);
}

}  // namespace ferry::mshv

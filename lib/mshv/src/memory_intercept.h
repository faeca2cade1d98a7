// MMIO on MSHV: a guest access to a guest-physical address that is not RAM (UNMAPPED_GPA) or that
// the mapping forbids (GPA_INTERCEPT) stops the VP with the instruction's bytes. This checks the
// message (byte count, access type, no event being delivered) and hands the instruction to the
// MMIO emulator with the addresses the hypervisor vouches for.
#pragma once

#include "ferry/accel/guest_io.h"
#include "ferry/base/error.h"
#include "ferry/mshv/hv_abi.h"
#include "ferry/mshv/mmio_emulator.h"
#include "ferry/mshv/vp_context.h"

namespace ferry::mshv {

Expected<void> handle_memory_intercept(uint32_t message_type,
                                       const HvX64MemoryInterceptMessage& message, VpContext& vp,
                                       accel::GuestIo& io, MmioEmulator& emulator) noexcept;

}  // namespace ferry::mshv

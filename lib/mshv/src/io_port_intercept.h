// Port I/O on MSHV: the hypervisor stops the VP on IN, OUT, INS and OUTS (with or without REP)
// and reports an X64_IO_PORT_INTERCEPT. There is no completion ioctl: the VMM performs the
// access, merges the result into the registers and moves RIP past the instruction itself.
#pragma once

#include "ferry/accel/guest_io.h"
#include "ferry/base/error.h"
#include "ferry/mshv/hv_abi.h"
#include "ferry/mshv/vp_context.h"

namespace ferry::mshv {

// At most this many elements of a REP INS/OUTS are carried out per intercept; RIP stays on the
// instruction until RCX reaches 0, so the guest re-executes it for the rest (as KVM does per page).
constexpr uint64_t kMaxStringElementsPerExit = 1024;

/// Carries out the access of `message` through `io` and updates the registers of `vp`.
/// Everything the message says is checked; an inconsistent message is an error, not a guess.
Expected<void> handle_io_port_intercept(const HvX64IoPortInterceptMessage& message, VpContext& vp,
                                        accel::GuestIo& io) noexcept;

}  // namespace ferry::mshv

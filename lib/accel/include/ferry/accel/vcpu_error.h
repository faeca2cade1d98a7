// The error a backend gives when a vCPU's run cannot continue: what happened, with the guest's
// registers appended.
#pragma once

#include <string>

#include "ferry/accel/vcpu.h"
#include "ferry/base/error.h"

namespace ferry::accel {

/// "vCPU <index>: <what>" and a register dump (or "(registers unavailable)").
Error vcpu_error(Vcpu& vcpu, std::string what, Errc code = Errc::kGuestFault);

}  // namespace ferry::accel

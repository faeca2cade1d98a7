// Choosing and opening an accelerator: the only place that knows every backend.
#pragma once

#include <memory>
#include <string_view>

#include "ferry/accel/hypervisor.h"
#include "ferry/base/error.h"

namespace ferry::cli {

enum class AccelChoice { kAuto, kKvm };

/// "auto" or "kvm"; an error lists the choices.
Expected<AccelChoice> parse_accel(std::string_view text);

/// Opens the chosen accelerator; kAuto picks the one whose device exists.
Expected<std::unique_ptr<accel::Hypervisor>> open_hypervisor(AccelChoice choice);

}  // namespace ferry::cli

// Choosing and opening an accelerator: the only place that knows every backend.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "ferry/accel/hypervisor.h"
#include "ferry/base/error.h"

namespace ferry::cli {

enum class AccelChoice { kAuto, kKvm, kMshv };

/// "auto", "kvm" or "mshv"; an error lists the choices.
Expected<AccelChoice> parse_accel(std::string_view text);

/// The backend auto stands for: the one whose device node exists (/dev/kvm and /dev/mshv never
/// exist on the same host: one is a KVM host, the other a Microsoft Hypervisor root partition).
/// `exists` tells whether a path exists.
Expected<AccelChoice> resolve_auto(const std::function<bool(const char*)>& exists);

/// Opens the chosen accelerator; kAuto picks the one whose device exists.
Expected<std::unique_ptr<accel::Hypervisor>> open_hypervisor(AccelChoice choice);

}  // namespace ferry::cli

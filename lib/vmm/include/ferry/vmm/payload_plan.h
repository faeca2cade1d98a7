// A spec's payload read and laid out for a guest of the spec's memory size. `ferry run` loads
// what this returns and `ferry validate` stops after it, so both make the same checks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/vmm/payload.h"
#include "ferry/vmm/vm_config.h"

namespace ferry::vmm {

struct PreparedPayload {
  std::vector<uint8_t> file_bytes;    // a file payload's bytes; the plan's pieces point into them
  std::vector<uint8_t> initrd_bytes;  // a Linux payload's initrd, likewise
  PayloadPlan plan;
  std::string what;  // "payload (built-in hello)" or "payload /path/guest.elf", for messages
};

/// Reads the payload and lays it out in the RAM of a `memory_size` guest: the image's format,
/// that it fits RAM, that it stays clear of the boot tables, and a real-mode entry below 1 MiB.
/// A Linux payload's error says which key it is about through `fault_key` ("kernel", "initrd" or
/// "cmdline") when that is not null.
Expected<PreparedPayload> prepare_payload(const PayloadConfig& payload, uint64_t memory_size,
                                          std::string* fault_key = nullptr);

}  // namespace ferry::vmm

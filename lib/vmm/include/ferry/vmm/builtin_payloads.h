// The test guests compiled into ferry (guests/), selectable with `payload: {builtin: <name>}`.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "ferry/vmm/payload.h"
#include "ferry/vmm/vm_config.h"

namespace ferry::vmm {

struct BuiltinPayload {
  std::string_view name;
  std::string_view summary;
  PayloadFormat format;
  BootMode mode;
  uint64_t load_address;  // flat images
  std::span<const uint8_t> image;

  /// The payload section of a spec that runs this guest.
  PayloadConfig config() const {
    PayloadConfig c;
    c.builtin = std::string(name);
    c.format = format;
    c.mode = mode;
    c.load_address = load_address;
    return c;
  }
};

std::span<const BuiltinPayload> builtin_payloads();
const BuiltinPayload* find_builtin_payload(std::string_view name);

}  // namespace ferry::vmm

// A PCI function's address as Linux names it: domain:bus:device.function ("0000:01:00.0").
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "ferry/base/error.h"

namespace ferry::pci::host {

struct Bdf {
  uint32_t domain = 0;
  uint8_t bus = 0;
  uint8_t device = 0;    // 0-31
  uint8_t function = 0;  // 0-7

  /// "0000:01:00.0", or "01:00.0" for domain 0 (hex digits, either case). The error quotes the
  /// text and shows the expected form.
  static Expected<Bdf> parse(std::string_view text);

  /// "0000:01:00.0", the name of the device's directory in /sys/bus/pci/devices.
  std::string str() const;

  auto operator<=>(const Bdf&) const = default;
};

}  // namespace ferry::pci::host

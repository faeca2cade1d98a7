#include "ferry/pci/host/bdf.h"

#include <cctype>
#include <charconv>
#include <optional>

namespace ferry::pci::host {
namespace {

// Parses exactly `digits` hex digits (or, when digits is 0, one to eight) from the front of text.
std::optional<uint32_t> take_hex(std::string_view& text, size_t digits) {
  size_t length = 0;
  while (length < text.size() && std::isxdigit(static_cast<unsigned char>(text[length])) &&
         (digits == 0 ? length < 8 : length < digits)) {
    ++length;
  }
  if (length == 0 || (digits != 0 && length != digits)) return std::nullopt;
  uint32_t value = 0;
  std::from_chars(text.data(), text.data() + length, value, 16);
  text.remove_prefix(length);
  return value;
}

bool take(std::string_view& text, char c) {
  if (text.empty() || text.front() != c) return false;
  text.remove_prefix(1);
  return true;
}

}  // namespace

Expected<Bdf> Bdf::parse(std::string_view text) {
  auto malformed = [&](std::string_view why) {
    return fail(Errc::kInvalidArgument,
                "'{}' is not a PCI address: {}; write it as lspci -D shows it, e.g. 0000:01:00.0 "
                "(domain:bus:device.function, hex)",
                text, why);
  };
  std::string_view rest = text;
  Bdf bdf;
  // With a domain there are two colons: "dddd:bb:dd.f"; without, one: "bb:dd.f".
  const bool has_domain = text.find(':') != text.rfind(':');
  if (has_domain) {
    auto domain = take_hex(rest, 0);
    if (!domain || !take(rest, ':')) return malformed("the domain is not 1-8 hex digits");
    bdf.domain = *domain;
  }
  auto bus = take_hex(rest, 2);
  if (!bus || !take(rest, ':')) return malformed("the bus is not two hex digits");
  auto device = take_hex(rest, 2);
  if (!device || !take(rest, '.')) return malformed("the device is not two hex digits");
  auto function = take_hex(rest, 1);
  if (!function || !rest.empty()) return malformed("the function is not one digit 0-7");
  if (*device > 31) return malformed("the device number is above 1f");
  if (*function > 7) return malformed("the function number is above 7");
  bdf.bus = static_cast<uint8_t>(*bus);
  bdf.device = static_cast<uint8_t>(*device);
  bdf.function = static_cast<uint8_t>(*function);
  return bdf;
}

std::string Bdf::str() const {
  return fmt::format("{:04x}:{:02x}:{:02x}.{:x}", domain, bus, device, function);
}

}  // namespace ferry::pci::host

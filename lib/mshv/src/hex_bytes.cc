#include "hex_bytes.h"

#include <fmt/format.h>

namespace ferry::mshv {

std::string hex_bytes(std::span<const uint8_t> bytes) {
  std::string out;
  for (uint8_t b : bytes) out += fmt::format("{}{:02x}", out.empty() ? "" : " ", b);
  return out;
}

}  // namespace ferry::mshv

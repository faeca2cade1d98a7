// Instruction bytes as "0f 01 d9", for error messages.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace ferry::mshv {

std::string hex_bytes(std::span<const uint8_t> bytes);

}  // namespace ferry::mshv

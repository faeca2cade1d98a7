// Byte sizes as people write them: "64M", "1G", "4096", "2MiB".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;

// Accepts a decimal or 0x-prefixed count with an optional K/M/G/T suffix (also KB, KiB...),
// binary multiples. nullopt on anything else, including overflow.
std::optional<uint64_t> parse_size(std::string_view text);

// "64 MiB", "1.5 GiB", "4096 B".
std::string format_size(uint64_t bytes);

}  // namespace ferry

#include "ferry/base/units.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

#include "ferry/base/checked.h"

namespace ferry {
namespace {

std::optional<uint64_t> suffix_multiplier(std::string_view suffix) {
  if (suffix.empty() || suffix == "B") return 1;
  char unit = static_cast<char>(std::toupper(static_cast<unsigned char>(suffix[0])));
  std::string_view rest = suffix.substr(1);
  if (!(rest.empty() || rest == "B" || rest == "iB" || rest == "b" || rest == "ib")) {
    return std::nullopt;
  }
  switch (unit) {
    case 'K':
      return kKiB;
    case 'M':
      return kMiB;
    case 'G':
      return kGiB;
    case 'T':
      return 1024 * kGiB;
    default:
      return std::nullopt;
  }
}

}  // namespace

std::optional<uint64_t> parse_size(std::string_view text) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  uint64_t count = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), count, base);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  std::string_view suffix(end, text.data() + text.size() - end);
  if (base == 16 && !suffix.empty()) return std::nullopt;  // "0x10M" is too clever to guess
  auto multiplier = suffix_multiplier(suffix);
  if (!multiplier) return std::nullopt;
  return checked_mul(count, *multiplier);
}

std::string format_size(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  double value = static_cast<double>(bytes);
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  if (unit == 0) return fmt::format("{} B", bytes);
  if (value == static_cast<double>(static_cast<uint64_t>(value))) {
    return fmt::format("{} {}", static_cast<uint64_t>(value), kUnits[unit]);
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

}  // namespace ferry

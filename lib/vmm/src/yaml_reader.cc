#include "yaml_reader.h"

#include <algorithm>
#include <set>
#include <vector>

#include "ferry/base/units.h"

namespace ferry::vmm {
namespace {

std::string join(std::initializer_list<std::string_view> words) {
  std::string out;
  for (std::string_view w : words) {
    if (!out.empty()) out += ", ";
    out += w;
  }
  return out;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean 'vcpus'?)" when one allowed word is a likely typo of `word`.
std::string suggestion(std::string_view word, std::initializer_list<std::string_view> allowed) {
  for (std::string_view candidate : allowed) {
    if (edit_distance(word, candidate) <= 2) return fmt::format(" (did you mean '{}'?)", candidate);
  }
  return "";
}

}  // namespace

const char* yaml_type_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "empty";
    default:
      return "undefined";
  }
}

std::string YamlReader::where(const YAML::Node& node, const std::string& path) const {
  // The longest overridden prefix of the path wins: "--set memory={size: 1G}" covers memory.size.
  for (std::string prefix = path;;) {
    if (auto it = overridden_.find(prefix); it != overridden_.end()) return it->second;
    size_t dot = prefix.find_last_of(".[");
    if (dot == std::string::npos) break;
    prefix.resize(dot);
  }
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return source_;
  return fmt::format("{}:{}:{}", source_, mark.line + 1, mark.column + 1);
}

Error YamlReader::error(const YAML::Node& node, const std::string& path,
                        const std::string& message) const {
  return Error(Errc::kInvalidArgument,
               fmt::format("{}: {}: {}", where(node, path), path.empty() ? "spec" : path, message));
}

Expected<void> YamlReader::check_map(const YAML::Node& node, const std::string& path,
                                     std::initializer_list<std::string_view> allowed) const {
  if (!node.IsMap()) {
    return fail(error(node, path,
                      fmt::format("must be a mapping with keys {}, not {}", join(allowed),
                                  yaml_type_name(node))));
  }
  std::set<std::string> seen;
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    const std::string key_path = path.empty() ? key : path + "." + key;
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return fail(Error(
          Errc::kInvalidArgument,
          fmt::format("{}: unknown key '{}'{}{}; allowed: {}", where(entry.first, key_path), key,
                      path.empty() ? "" : " in " + path, suggestion(key, allowed), join(allowed))));
    }
    if (!seen.insert(key).second) {
      return fail(error(entry.first, key_path, "appears twice; keep one"));
    }
  }
  return {};
}

Expected<std::string> YamlReader::string(const YAML::Node& node, const std::string& path) const {
  if (!node.IsScalar() || node.Scalar().empty()) {
    return fail(
        error(node, path, fmt::format("must be a non-empty string, not {}", yaml_type_name(node))));
  }
  return node.Scalar();
}

Expected<uint64_t> YamlReader::integer(const YAML::Node& node, const std::string& path,
                                       uint64_t min, uint64_t max) const {
  const std::string range = fmt::format("a whole number from {} to {}", min, max);
  if (!node.IsScalar()) return fail(error(node, path, fmt::format("must be {}", range)));
  const std::string& text = node.Scalar();
  // parse_size also takes suffixes ("4K"); a count must be plain decimal or 0x hex.
  const bool plain = text.rfind("0x", 0) == 0 ||
                     (!text.empty() && std::all_of(text.begin(), text.end(), ::isdigit));
  auto value = plain ? parse_size(text) : std::nullopt;
  if (!value || *value < min || *value > max) {
    return fail(error(node, path, fmt::format("'{}' is not {}", text, range)));
  }
  return *value;
}

Expected<uint64_t> YamlReader::size(const YAML::Node& node, const std::string& path) const {
  auto value = node.IsScalar() ? parse_size(node.Scalar()) : std::nullopt;
  if (!value) {
    return fail(error(node, path,
                      fmt::format("'{}' is not a size; write bytes (4096), hex (0x100000) or a "
                                  "K/M/G/T suffix (64M, 1G)",
                                  node.IsScalar() ? node.Scalar() : yaml_type_name(node))));
  }
  return *value;
}

Expected<std::string> YamlReader::choice(const YAML::Node& node, const std::string& path,
                                         std::initializer_list<std::string_view> choices) const {
  if (node.IsScalar() &&
      std::find(choices.begin(), choices.end(), node.Scalar()) != choices.end()) {
    return node.Scalar();
  }
  return fail(
      error(node, path,
            fmt::format("'{}' is not one of: {}",
                        node.IsScalar() ? node.Scalar() : yaml_type_name(node), join(choices))));
}

}  // namespace ferry::vmm

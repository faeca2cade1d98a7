// Typed, located reads from a yaml-cpp tree: each failure becomes an Error that says where the
// value came from (file:line:column or --set) and which key it was.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

#include "ferry/base/error.h"

namespace ferry::vmm {

/// "a mapping", "a list", "a scalar", "empty" or "undefined".
const char* yaml_type_name(const YAML::Node& node);

class YamlReader {
 public:
  YamlReader(std::string source, std::map<std::string, std::string> overridden)
      : source_(std::move(source)), overridden_(std::move(overridden)) {}

  /// "vm.yaml:3:5", or "--set memory.size=1G" when an override supplied the value at `path`.
  std::string where(const YAML::Node& node, const std::string& path) const;
  /// "<where>: <path>: <message>" as an invalid-argument error.
  Error error(const YAML::Node& node, const std::string& path, const std::string& message) const;

  /// The node must be a mapping whose keys are all in `allowed`, each once.
  Expected<void> check_map(const YAML::Node& node, const std::string& path,
                           std::initializer_list<std::string_view> allowed) const;
  Expected<std::string> string(const YAML::Node& node, const std::string& path) const;
  /// A plain integer (decimal or 0x hex) in [min, max].
  Expected<uint64_t> integer(const YAML::Node& node, const std::string& path, uint64_t min,
                             uint64_t max) const;
  /// A size or address: 4096, 0x100000, 64M, 1G.
  Expected<uint64_t> size(const YAML::Node& node, const std::string& path) const;
  /// One of `choices`, as written.
  Expected<std::string> choice(const YAML::Node& node, const std::string& path,
                               std::initializer_list<std::string_view> choices) const;

 private:
  std::string source_;
  std::map<std::string, std::string> overridden_;  // key path -> "--set key=value"
};

}  // namespace ferry::vmm

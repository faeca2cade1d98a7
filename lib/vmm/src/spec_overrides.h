// Applying `--set key=value` overrides to a spec's YAML tree, and remembering which override put
// each value there so that errors name it instead of a file position.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <span>
#include <string>

#include "ferry/base/error.h"
#include "ferry/vmm/config_loader.h"

namespace ferry::vmm {

/// Applies `overrides` in order. A path only walks through mappings (or creates them where a
/// key is absent or empty); one through a scalar or a list is an error naming the override.
/// Returns key path -> "--set key=value" for every value and mapping an override made.
Expected<std::map<std::string, std::string>> apply_overrides(
    YAML::Node& root, std::span<const ConfigOverride> overrides, const std::string& source);

}  // namespace ferry::vmm

// Loading a VM spec (docs/config.md) from YAML, with `--set key=value` overrides. Every error
// names the place (file:line:column, or the --set that put the value there), the key, and what
// is allowed.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "ferry/base/error.h"
#include "ferry/vmm/vm_config.h"

namespace ferry::vmm {

// One `--set key=value`: a dotted key path and a YAML value.
struct ConfigOverride {
  std::string key;
  std::string value;
};

/// Splits "memory.size=128M" into key and value.
Expected<ConfigOverride> parse_config_override(std::string_view text);

/// Reads, overrides and validates the spec at `path`. Relative paths inside it are resolved
/// against the spec's directory.
Expected<VmConfig> load_vm_config(const std::string& path,
                                  std::span<const ConfigOverride> overrides = {});

/// The same from text; `source` names it in errors, `base_dir` resolves relative paths.
Expected<VmConfig> parse_vm_config(std::string_view yaml, const std::string& source,
                                   const std::string& base_dir,
                                   std::span<const ConfigOverride> overrides = {});

}  // namespace ferry::vmm

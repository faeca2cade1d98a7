// Reading a spec's text into one YAML tree: syntax errors and a second document are refused
// with the line and column and what to change.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>

#include "ferry/base/error.h"

namespace ferry::vmm {

/// The spec's single YAML document; `source` names the text in errors.
Expected<YAML::Node> load_spec_document(std::string_view text, const std::string& source);

}  // namespace ferry::vmm

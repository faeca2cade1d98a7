// Whole-file reads for payloads and configs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ferry/base/error.h"

namespace ferry {

/// Reads `path` whole; fails (without reading) when it is larger than max_size bytes.
Expected<std::vector<uint8_t>> read_file(const std::string& path, uint64_t max_size);

/// Reads at most the first `length` bytes of a regular file.
Expected<std::vector<uint8_t>> read_file_prefix(const std::string& path, uint64_t length);

}  // namespace ferry

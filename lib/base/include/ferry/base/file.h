// Opening the files a user names (specs, payloads, pci.ids, serial output) and whole-file reads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/base/unique_fd.h"

namespace ferry {

/// What kind of file a stat mode is, for errors: "a directory", "a FIFO (named pipe)".
std::string_view file_kind(mode_t mode);

/// Opens `path` for reading if it is a regular file. Anything else (a FIFO, a directory, a
/// device, a socket) is refused without blocking and without reading from it.
Expected<UniqueFd> open_regular_file(const std::string& path);

/// Opens `path` for writing, created if missing and truncated, if it is a regular file; an
/// existing FIFO, directory, device or socket is refused without blocking.
Expected<UniqueFd> create_regular_file(const std::string& path);

/// Fails, naming the kind, when `path` exists and is not a regular file (a missing one, or one
/// that cannot be stat'ed, passes: opening it says why).
Expected<void> check_not_special(const std::string& path);

/// Reads `path` whole; fails (without reading) when it is larger than max_size bytes.
Expected<std::vector<uint8_t>> read_file(const std::string& path, uint64_t max_size);

/// Reads at most the first `length` bytes of a regular file.
Expected<std::vector<uint8_t>> read_file_prefix(const std::string& path, uint64_t length);

}  // namespace ferry

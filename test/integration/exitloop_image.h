// The exitloop guest (guests/exitloop.S) with its two counts patched in, written to a file.
#pragma once

#include <cstdint>
#include <string>

#include "support/temp_dir.h"

namespace ferry::test {

constexpr uint64_t kExitloopPioCountOffset = 0xffe0;
constexpr uint64_t kExitloopMmioCountOffset = 0xffe4;

/// Writes exitloop.bin into `dir` with the given counts and returns its path.
std::string write_exitloop(const TempDir& dir, uint32_t pio_exits, uint32_t mmio_exits);

}  // namespace ferry::test

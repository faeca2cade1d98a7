// The pure parts of linux_boot_bench, kept apart so unit tests check them: the initramfs it
// writes (a newc cpio archive, the format Linux unpacks) and the marker line its init prints.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ferry::bench {

struct CpioEntry {
  std::string name;   // without a leading "/": "init", "dev/console"
  uint32_t mode = 0;  // type and permissions: 0100755 a file, 040755 a directory, 020600 a char
                      // device
  uint32_t rdev_major = 0, rdev_minor = 0;  // a device node's number
  std::string data;                         // a file's bytes
};

/// A newc ("070701") archive of `entries` in order, each owned by 0:0 with mtime 0 and inode
/// numbers 1, 2, ..., then the trailer.
std::string newc_archive(const std::vector<CpioEntry>& entries);

/// Where the line holding the init's marker ends in `console` (the index just past its '\n'),
/// once the whole line has arrived; nullopt before.
std::optional<size_t> marker_line_end(const std::string& console);

/// The guest's CLOCK_BOOTTIME in milliseconds that the marker line reports; nullopt if there is
/// no whole marker line or its number does not parse.
std::optional<double> marker_boottime_ms(const std::string& console);

}  // namespace ferry::bench

#include "linux_boot_logic.h"

#include <fmt/format.h>

#include <cstdlib>

#include "linux_boot_marker.h"

namespace ferry::bench {
namespace {

void pad_to_4(std::string& out) { out.append((4 - out.size() % 4) % 4, '\0'); }

void append_entry(std::string& out, uint32_t inode, const CpioEntry& e) {
  // 13 fields of 8 hex digits after the magic: inode, mode, uid, gid, nlink, mtime, file size,
  // the device holding it (major, minor), the device it is (major, minor), the name's size with
  // its NUL, and a checksum (0 for newc).
  const bool directory = (e.mode & 0170000) == 040000;
  out += fmt::format(
      "070701{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}", inode,
      e.mode, 0, 0, directory ? 2 : 1, 0, e.data.size(), 0, 0, e.rdev_major, e.rdev_minor,
      e.name.size() + 1, 0);
  out += e.name;
  out += '\0';
  pad_to_4(out);
  out += e.data;
  pad_to_4(out);
}

}  // namespace

std::string newc_archive(const std::vector<CpioEntry>& entries) {
  std::string out;
  uint32_t inode = 1;
  for (const CpioEntry& e : entries) append_entry(out, inode++, e);
  append_entry(out, 0,
               {.name = "TRAILER!!!", .mode = 0, .rdev_major = 0, .rdev_minor = 0, .data = ""});
  return out;
}

std::optional<size_t> marker_line_end(const std::string& console) {
  const size_t start = console.find(LINUX_BOOT_MARKER);
  if (start == std::string::npos) return std::nullopt;
  const size_t newline = console.find('\n', start);
  if (newline == std::string::npos) return std::nullopt;
  return newline + 1;
}

std::optional<double> marker_boottime_ms(const std::string& console) {
  const std::optional<size_t> end = marker_line_end(console);
  if (!end) return std::nullopt;
  const size_t number = console.find(LINUX_BOOT_MARKER) + sizeof(LINUX_BOOT_MARKER) - 1;
  const std::string rest = console.substr(number, *end - number);
  char* parsed_end = nullptr;
  const double seconds = std::strtod(rest.c_str(), &parsed_end);
  if (parsed_end == rest.c_str() || std::string(parsed_end).rfind(" s", 0) != 0)
    return std::nullopt;
  return seconds * 1000.0;
}

}  // namespace ferry::bench

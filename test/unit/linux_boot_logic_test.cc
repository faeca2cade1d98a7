// linux_boot_bench's pure parts (bench/linux_boot_logic.h): the initramfs it writes is a newc
// archive Linux unpacks, and the marker line is found only whole and read right.
#include "linux_boot_logic.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "linux_boot_marker.h"

namespace ferry::bench {
namespace {

// One entry read back from a newc archive, by the format's own rules (an independent reader).
struct ReadEntry {
  uint32_t inode, mode, nlink, file_size, rdev_major, rdev_minor;
  std::string name, data;
};

uint32_t hex_field(const std::string& archive, size_t at) {
  return static_cast<uint32_t>(std::strtoul(archive.substr(at, 8).c_str(), nullptr, 16));
}

std::vector<ReadEntry> read_newc(const std::string& archive) {
  std::vector<ReadEntry> entries;
  size_t at = 0;
  while (at + 110 <= archive.size()) {
    EXPECT_EQ(archive.substr(at, 6), "070701") << "at " << at;
    EXPECT_EQ(at % 4, 0u) << "headers are 4-byte aligned";
    ReadEntry e{};
    e.inode = hex_field(archive, at + 6);
    e.mode = hex_field(archive, at + 14);
    EXPECT_EQ(hex_field(archive, at + 22), 0u) << "uid";
    EXPECT_EQ(hex_field(archive, at + 30), 0u) << "gid";
    e.nlink = hex_field(archive, at + 38);
    EXPECT_EQ(hex_field(archive, at + 46), 0u) << "mtime";
    e.file_size = hex_field(archive, at + 54);
    e.rdev_major = hex_field(archive, at + 78);
    e.rdev_minor = hex_field(archive, at + 86);
    const uint32_t name_size = hex_field(archive, at + 94);
    e.name = archive.substr(at + 110, name_size - 1);
    EXPECT_EQ(archive[at + 110 + name_size - 1], '\0');
    at = (at + 110 + name_size + 3) / 4 * 4;
    e.data = archive.substr(at, e.file_size);
    at = (at + e.file_size + 3) / 4 * 4;
    entries.push_back(e);
    if (e.name == "TRAILER!!!") break;
  }
  EXPECT_EQ(at, archive.size()) << "nothing after the trailer but its padding";
  return entries;
}

TEST(LinuxBootBenchInitramfs, IsANewcArchiveOfTheEntriesThenTheTrailer) {
  const std::string init = "\177ELF and five";  // 13 bytes: the data needs padding
  const std::string archive = newc_archive(
      {{.name = "dev", .mode = 040755, .rdev_major = 0, .rdev_minor = 0, .data = ""},
       {.name = "dev/console", .mode = 020600, .rdev_major = 5, .rdev_minor = 1, .data = ""},
       {.name = "init", .mode = 0100755, .rdev_major = 0, .rdev_minor = 0, .data = init}});
  EXPECT_EQ(archive.size() % 4, 0u);
  const std::vector<ReadEntry> entries = read_newc(archive);
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].name, "dev");
  EXPECT_EQ(entries[0].mode, 040755u);
  EXPECT_EQ(entries[0].nlink, 2u);
  EXPECT_EQ(entries[1].name, "dev/console");
  EXPECT_EQ(entries[1].mode, 020600u);
  EXPECT_EQ(entries[1].rdev_major, 5u);
  EXPECT_EQ(entries[1].rdev_minor, 1u);
  EXPECT_EQ(entries[2].name, "init");
  EXPECT_EQ(entries[2].mode, 0100755u);
  EXPECT_EQ(entries[2].nlink, 1u);
  EXPECT_EQ(entries[2].data, init);
  EXPECT_EQ(entries[3].name, "TRAILER!!!");
  EXPECT_EQ(entries[3].file_size, 0u);
  EXPECT_NE(entries[0].inode, entries[1].inode);
  EXPECT_NE(entries[1].inode, entries[2].inode);
}

TEST(LinuxBootBenchMarker, CountsOnlyAWholeLine) {
  const std::string before = "early console noise\r\n";
  const std::string line = std::string(LINUX_BOOT_MARKER) + " 1.234567890 s\r\n";
  EXPECT_FALSE(marker_line_end(before).has_value());
  EXPECT_FALSE(marker_line_end(before + line.substr(0, line.size() - 1)).has_value())
      << "the line's end has not arrived";
  EXPECT_EQ(marker_line_end(before + line), before.size() + line.size());
  EXPECT_EQ(marker_line_end(before + line + "after\n"), before.size() + line.size());
}

TEST(LinuxBootBenchMarker, ReadsTheBoottimeInMilliseconds) {
  const std::string line = std::string(LINUX_BOOT_MARKER) + " 1.234567890 s\r\n";
  ASSERT_TRUE(marker_boottime_ms("noise\n" + line).has_value());
  EXPECT_NEAR(*marker_boottime_ms("noise\n" + line), 1234.56789, 1e-6);
  EXPECT_NEAR(*marker_boottime_ms(std::string(LINUX_BOOT_MARKER) + " 0.000250000 s\n"), 0.25, 1e-9);
  EXPECT_FALSE(marker_boottime_ms(std::string(LINUX_BOOT_MARKER) + " soon s\n").has_value());
  EXPECT_FALSE(marker_boottime_ms(std::string(LINUX_BOOT_MARKER) + " 1.5 ms\n").has_value());
  EXPECT_FALSE(marker_boottime_ms(std::string(LINUX_BOOT_MARKER) + " 1.5 s").has_value())
      << "not yet a whole line";
  EXPECT_FALSE(marker_boottime_ms("no marker at all 1.5 s\n").has_value());
}

}  // namespace
}  // namespace ferry::bench

#include "pci_fixtures.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

namespace ferry::test {

std::string sysfs_fixture(const std::string& name) {
  return std::string(FERRY_SOURCE_DIR) + "/test/fixtures/sysfs/" + name;
}

std::vector<uint8_t> fixture_config(const std::string& tree, const std::string& bdf) {
  const std::string path = sysfs_fixture(tree) + "/bus/pci/devices/" + bdf + "/config";
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

std::vector<uint8_t> dump_config(const std::string& file) {
  const std::string path = std::string(FERRY_SOURCE_DIR) + "/test/fixtures/pci-dumps/" + file;
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  // "1f0: 00 11 22 ... ff": an offset, then 16 bytes.
  static const std::regex kRow("^([0-9a-f]+):((?: [0-9a-f]{2}){16})$");
  std::vector<uint8_t> bytes;
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_match(line, m, kRow)) continue;
    const size_t offset = std::stoul(m[1].str(), nullptr, 16);
    EXPECT_EQ(offset, bytes.size()) << path << ": rows out of order at " << line;
    std::istringstream row(m[2].str());
    for (std::string byte; row >> byte;)
      bytes.push_back(static_cast<uint8_t>(std::stoul(byte, nullptr, 16)));
  }
  return bytes;
}

}  // namespace ferry::test

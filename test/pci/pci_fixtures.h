// Where the PCI test fixtures live and how to read them (test/fixtures/README.md): captured
// sysfs trees (this machine's, the lab's) and public lspci hex dumps.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::test {

/// test/fixtures/sysfs/<name>: a captured sysfs root ("lab-q35", "host-virtio").
std::string sysfs_fixture(const std::string& name);

/// The config space bytes of `bdf` in a captured sysfs tree.
std::vector<uint8_t> fixture_config(const std::string& tree, const std::string& bdf);

/// The config space bytes in test/fixtures/pci-dumps/<file> (lspci -xxxx text, one device).
std::vector<uint8_t> dump_config(const std::string& file);

}  // namespace ferry::test

// A Platform over a flat byte array of guest RAM at guest-physical 0, with MMIO everywhere
// above it. MMIO reads return a fixed function of the address; every MMIO access is logged.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "ferry/x86/platform.h"

namespace ferry::x86::test {

struct MmioAccess {
  bool write = false;
  uint64_t gpa = 0;
  std::vector<uint8_t> data;
  bool operator==(const MmioAccess&) const = default;
};

/// "W 0xa0000 [01 02]" for test failure messages.
std::string describe(const MmioAccess& access);
std::string describe(std::span<const MmioAccess> accesses);

/// The byte an MMIO read of `gpa` returns, in FakePlatform and in the differential harness.
uint8_t mmio_byte(uint64_t gpa);

void PrintTo(const MmioAccess& access, std::ostream* out);

constexpr uint64_t kLegacyHoleBegin = 0xa0000, kLegacyHoleEnd = 0xc0000;

/// Whether [gpa, gpa + size) is RAM in a VM of `ram_size` bytes: inside it and off the hole.
bool is_ram(uint64_t gpa, size_t size, uint64_t ram_size);

// RAM is [0, ram_size) less the legacy hole [0xa0000, 0xc0000), which is MMIO as on a PC.
class FakePlatform : public Platform {
 public:
  explicit FakePlatform(uint64_t ram_size) : ram_(ram_size, 0) {}

  bool read_ram(uint64_t gpa, std::span<uint8_t> data) noexcept override;
  bool write_ram(uint64_t gpa, std::span<const uint8_t> data) noexcept override;
  void mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept override;
  void mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept override;

  std::vector<uint8_t>& ram() { return ram_; }
  void poke(uint64_t gpa, std::span<const uint8_t> bytes);
  void poke64(uint64_t gpa, uint64_t value);
  uint64_t peek64(uint64_t gpa) const;
  const std::vector<MmioAccess>& mmio() const { return mmio_; }
  void clear_mmio() { mmio_.clear(); }
  /// Makes MMIO reads at [gpa, gpa + bytes.size()) return `bytes` instead of mmio_byte().
  void set_mmio_value(uint64_t gpa, std::span<const uint8_t> bytes);
  /// RAM accesses that crossed a 4 KiB page (the Platform contract forbids them).
  unsigned page_crossings() const { return page_crossings_; }

 private:
  std::vector<uint8_t> ram_;
  std::vector<MmioAccess> mmio_;
  std::map<uint64_t, uint8_t> mmio_values_;
  unsigned page_crossings_ = 0;
};

}  // namespace ferry::x86::test

#include "fake_platform.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "ferry/base/checked.h"

namespace ferry::x86::test {
namespace {

bool crosses_page(uint64_t gpa, size_t size) {
  return size > 0 && (gpa >> 12) != ((gpa + size - 1) >> 12);
}

}  // namespace

bool is_ram(uint64_t gpa, size_t size, uint64_t ram_size) {
  return range_fits(gpa, size, ram_size) &&
         !ranges_overlap(gpa, size, kLegacyHoleBegin, kLegacyHoleEnd - kLegacyHoleBegin);
}

std::string describe(const MmioAccess& access) {
  std::string bytes;
  for (uint8_t b : access.data) bytes += fmt::format("{}{:02x}", bytes.empty() ? "" : " ", b);
  return fmt::format("{} {:#x} [{}]", access.write ? "W" : "R", access.gpa, bytes);
}

std::string describe(std::span<const MmioAccess> accesses) {
  std::string text;
  for (const MmioAccess& a : accesses) text += describe(a) + "; ";
  return text.empty() ? "(none)" : text;
}

uint8_t mmio_byte(uint64_t gpa) {
  uint64_t h = gpa * 0x9e3779b97f4a7c15ull;
  h ^= h >> 29;
  return static_cast<uint8_t>(h * 0xbf58476d1ce4e5b9ull >> 56);
}

void PrintTo(const MmioAccess& access, std::ostream* out) { *out << describe(access); }

bool FakePlatform::read_ram(uint64_t gpa, std::span<uint8_t> data) noexcept {
  if (!is_ram(gpa, data.size(), ram_.size())) return false;
  if (crosses_page(gpa, data.size())) ++page_crossings_;
  std::memcpy(data.data(), ram_.data() + gpa, data.size());
  return true;
}

bool FakePlatform::write_ram(uint64_t gpa, std::span<const uint8_t> data) noexcept {
  if (!is_ram(gpa, data.size(), ram_.size())) return false;
  if (crosses_page(gpa, data.size())) ++page_crossings_;
  std::memcpy(ram_.data() + gpa, data.data(), data.size());
  return true;
}

void FakePlatform::mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept {
  if (crosses_page(gpa, data.size())) ++page_crossings_;
  for (size_t i = 0; i < data.size(); ++i) {
    auto value = mmio_values_.find(gpa + i);
    data[i] = value != mmio_values_.end() ? value->second : mmio_byte(gpa + i);
  }
  mmio_.push_back({false, gpa, {data.begin(), data.end()}});
}

void FakePlatform::mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept {
  if (crosses_page(gpa, data.size())) ++page_crossings_;
  mmio_.push_back({true, gpa, {data.begin(), data.end()}});
}

void FakePlatform::set_mmio_value(uint64_t gpa, std::span<const uint8_t> bytes) {
  for (size_t i = 0; i < bytes.size(); ++i) mmio_values_[gpa + i] = bytes[i];
}

void FakePlatform::poke(uint64_t gpa, std::span<const uint8_t> bytes) {
  std::copy(bytes.begin(), bytes.end(), ram_.begin() + static_cast<std::ptrdiff_t>(gpa));
}

void FakePlatform::poke64(uint64_t gpa, uint64_t value) {
  std::memcpy(ram_.data() + gpa, &value, sizeof value);
}

uint64_t FakePlatform::peek64(uint64_t gpa) const {
  uint64_t value;
  std::memcpy(&value, ram_.data() + gpa, sizeof value);
  return value;
}

}  // namespace ferry::x86::test

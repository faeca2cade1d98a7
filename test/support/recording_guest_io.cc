#include "support/recording_guest_io.h"

#include <fmt/format.h>

#include <ostream>

namespace ferry::test {

std::string describe(const IoAccess& a) {
  static const char* const kNames[] = {"mmio read", "mmio write", "pio read", "pio write"};
  std::string bytes;
  for (uint8_t b : a.data) bytes += fmt::format(" {:02x}", b);
  return fmt::format("{} {:#x}:{}", kNames[static_cast<int>(a.kind)], a.address, bytes);
}

void PrintTo(const IoAccess& access, std::ostream* os) { *os << describe(access); }

void RecordingGuestIo::read(IoAccess::Kind kind, uint64_t address, std::span<uint8_t> data) {
  {
    std::lock_guard lock(mutex_);
    for (uint8_t& b : data) b = next_byte_++;
  }
  record({kind, address, {data.begin(), data.end()}});
}

void RecordingGuestIo::record(IoAccess access) {
  {
    std::lock_guard lock(mutex_);
    accesses_.push_back(access);
  }
  if (on_access) on_access(access);
}

void RecordingGuestIo::mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept {
  read(IoAccess::Kind::kMmioRead, gpa, data);
}

void RecordingGuestIo::mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept {
  record({IoAccess::Kind::kMmioWrite, gpa, {data.begin(), data.end()}});
}

void RecordingGuestIo::pio_read(uint16_t port, std::span<uint8_t> data) noexcept {
  read(IoAccess::Kind::kPioRead, port, data);
}

void RecordingGuestIo::pio_write(uint16_t port, std::span<const uint8_t> data) noexcept {
  record({IoAccess::Kind::kPioWrite, port, {data.begin(), data.end()}});
}

std::vector<IoAccess> RecordingGuestIo::accesses() const {
  std::lock_guard lock(mutex_);
  return accesses_;
}

}  // namespace ferry::test

// A GuestIo that records every access in order and answers reads with a deterministic byte
// sequence, so two backends running the same instructions can be compared access for access.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "ferry/accel/guest_io.h"

namespace ferry::test {

struct IoAccess {
  enum class Kind : uint8_t { kMmioRead, kMmioWrite, kPioRead, kPioWrite };
  Kind kind;
  uint64_t address;
  std::vector<uint8_t> data;  // written, or returned by the read
  bool operator==(const IoAccess&) const = default;
};

std::string describe(const IoAccess& access);  // "pio write 0x3f8: 68"
void PrintTo(const IoAccess& access, std::ostream* os);

class RecordingGuestIo final : public accel::GuestIo {
 public:
  /// Called after an access is recorded (on the vCPU thread), e.g. to look at the registers.
  std::function<void(const IoAccess&)> on_access;

  void mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept override;
  void mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept override;
  void pio_read(uint16_t port, std::span<uint8_t> data) noexcept override;
  void pio_write(uint16_t port, std::span<const uint8_t> data) noexcept override;

  std::vector<IoAccess> accesses() const;

 private:
  void read(IoAccess::Kind kind, uint64_t address, std::span<uint8_t> data);
  void record(IoAccess access);

  mutable std::mutex mutex_;
  std::vector<IoAccess> accesses_;
  uint8_t next_byte_ = 0x41;  // reads return 0x41, 0x42, ... across all reads
};

}  // namespace ferry::test

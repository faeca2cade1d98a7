// What the emulator needs from the machine around it: guest RAM and MMIO by physical address.
// A backend implements it over its guest memory and its GuestIo.
#pragma once

#include <cstdint>
#include <span>

namespace ferry::x86 {

class Platform {
 public:
  virtual ~Platform() = default;
  /// Copies guest RAM at gpa into data; false when any of [gpa, gpa + size) is not RAM (the
  /// emulator then treats the range as MMIO). Never called across a 4 KiB page boundary.
  virtual bool read_ram(uint64_t gpa, std::span<uint8_t> data) noexcept = 0;
  /// Stores data into guest RAM at gpa; false, with nothing written, when it is not all RAM.
  virtual bool write_ram(uint64_t gpa, std::span<const uint8_t> data) noexcept = 0;
  /// One MMIO read of 1-16 bytes at gpa (never across a 4 KiB page boundary).
  virtual void mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept = 0;
  /// One MMIO write of 1-16 bytes at gpa (never across a 4 KiB page boundary).
  virtual void mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept = 0;
};

}  // namespace ferry::x86

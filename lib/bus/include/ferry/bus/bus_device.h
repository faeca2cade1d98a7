// A device that answers reads and writes in an address range of a Bus.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

namespace ferry::bus {

class BusDevice {
 public:
  virtual ~BusDevice() = default;
  /// Fills data from the device, `offset` bytes from the start of its range.
  virtual void read(uint64_t offset, std::span<uint8_t> data) noexcept = 0;
  /// Stores data into the device, `offset` bytes from the start of its range.
  virtual void write(uint64_t offset, std::span<const uint8_t> data) noexcept = 0;
};

// Mixin for register-style devices: Derived implements
//   uint64_t read_register(uint64_t offset, unsigned size);
//   void write_register(uint64_t offset, unsigned size, uint64_t value);
// and sees accesses of 1-8 bytes as little-endian integers. Wider accesses read all ones and
// drop writes, as an unclaimed address would.
template <class Derived>
class RegisterDevice : public BusDevice {
 public:
  void read(uint64_t offset, std::span<uint8_t> data) noexcept final {
    if (data.size() > sizeof(uint64_t)) {
      std::memset(data.data(), 0xff, data.size());
      return;
    }
    uint64_t value = derived().read_register(offset, static_cast<unsigned>(data.size()));
    std::memcpy(data.data(), &value, data.size());
  }
  void write(uint64_t offset, std::span<const uint8_t> data) noexcept final {
    if (data.size() > sizeof(uint64_t)) return;
    uint64_t value = 0;
    std::memcpy(&value, data.data(), data.size());
    derived().write_register(offset, static_cast<unsigned>(data.size()), value);
  }

 private:
  Derived& derived() { return static_cast<Derived&>(*this); }
};

}  // namespace ferry::bus

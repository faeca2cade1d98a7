// An address space (MMIO or port I/O) of non-overlapping device ranges.
//
// Lookups are lock-free and allocation-free: they read an immutable snapshot of the range table.
// insert() and remove() copy the table under a mutex and publish the copy, so a device may change
// the bus while it is being called from it (a PCI BAR moving on a config-space write).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/bus/bus_device.h"

namespace ferry::bus {

class Bus {
 public:
  explicit Bus(std::string name);

  /// Claims [base, base+size) for device; fails when it overlaps a claimed range or wraps.
  Expected<void> insert(uint64_t base, uint64_t size, std::shared_ptr<BusDevice> device);
  /// Releases the range that starts exactly at base.
  Expected<void> remove(uint64_t base);

  /// Dispatches a read. An access no device claims whole reads all ones; returns false then.
  bool read(uint64_t address, std::span<uint8_t> data) const noexcept;
  /// Dispatches a write. An access no device claims whole is dropped; returns false then.
  bool write(uint64_t address, std::span<const uint8_t> data) const noexcept;

  const std::string& name() const { return name_; }

 private:
  struct Range {
    uint64_t base;
    uint64_t size;
    std::shared_ptr<BusDevice> device;
  };
  using Table = std::vector<Range>;  // sorted by base, non-overlapping

  // The range holding all of [address, address+length), or null.
  static const Range* find(const Table& table, uint64_t address, uint64_t length) noexcept;

  std::string name_;
  std::mutex writer_mutex_;  // serializes insert/remove; readers never take it
  std::atomic<std::shared_ptr<const Table>> table_;
};

}  // namespace ferry::bus

// An address space (MMIO or port I/O) of non-overlapping device ranges.
//
// Lookups read an immutable snapshot of the range table and never allocate. insert() and remove()
// copy the table under a mutex, publish the copy and bump a version, so a device may change the
// bus while it is being called from it (a PCI BAR moving on a config-space write). The hot path
// is a Bus::Reader (one per vCPU): it keeps its snapshot and checks one atomic version per
// access, where Bus::read/write pay for a reference-counted load of the current table.
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

  class Reader;

 private:
  struct Range {
    uint64_t base;
    uint64_t size;
    std::shared_ptr<BusDevice> device;
  };
  using Table = std::vector<Range>;  // sorted by base, non-overlapping

  // The range holding all of [address, address+length), or null.
  static const Range* find(const Table& table, uint64_t address, uint64_t length) noexcept;
  static bool read(const Table& table, uint64_t address, std::span<uint8_t> data) noexcept;
  static bool write(const Table& table, uint64_t address, std::span<const uint8_t> data) noexcept;
  void publish(std::shared_ptr<const Table> table);

  std::string name_;
  std::mutex writer_mutex_;  // serializes insert/remove; readers never take it
  std::atomic<std::shared_ptr<const Table>> table_;
  std::atomic<uint64_t> version_{0};  // bumped after every publish
};

// One thread's view of a bus, for the per-exit path. It holds the snapshot it last used, and
// with it the devices of that snapshot, until it sees the bus change: a device removed from the
// bus is released at its readers' next access (or when they are destroyed), never under one.
// Not thread-safe: one Reader per thread.
class Bus::Reader {
 public:
  explicit Reader(const Bus& bus) : bus_(bus) {}

  bool read(uint64_t address, std::span<uint8_t> data) noexcept {
    return Bus::read(current(), address, data);
  }
  bool write(uint64_t address, std::span<const uint8_t> data) noexcept {
    return Bus::write(current(), address, data);
  }

 private:
  const Table& current() noexcept;

  const Bus& bus_;
  uint64_t version_ = UINT64_MAX;  // no snapshot yet
  std::shared_ptr<const Table> table_;
};

}  // namespace ferry::bus

// The RAM side of the differential harness: copies of the pages lib/x86 may touch, taken before
// either side runs, so lib/x86's result and KVM's are each compared with the same start and
// never with the other's memory.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "fake_platform.h"

namespace ferry::x86::test {

/// Copies of whole 4 KiB pages of guest RAM as they were when it was taken.
class RamSnapshot {
 public:
  RamSnapshot(std::span<const uint8_t> ram, std::span<const uint64_t> page_gpas);

  bool holds(uint64_t gpa) const { return pages_.count(gpa / kBytesPerPage) != 0; }
  /// The byte at `gpa` as it was (holds(gpa) must be true).
  uint8_t byte(uint64_t gpa) const;
  const std::map<uint64_t, std::vector<uint8_t>>& pages() const { return pages_; }

  static constexpr uint64_t kBytesPerPage = 4096;

 private:
  std::map<uint64_t, std::vector<uint8_t>> pages_;  // page number -> bytes
};

/// A Platform whose RAM is a RamSnapshot's pages, written in place; it never reads live guest
/// memory. An access to a RAM page outside the snapshot is refused (false) and recorded: the
/// harness reports it, since it means the snapshot missed a page lib/x86 used.
class SnapshotPlatform : public Platform {
 public:
  /// `ram_size`: RAM is [0, ram_size) less the legacy hole, as in the oracle VM.
  SnapshotPlatform(const RamSnapshot& start, uint64_t ram_size)
      : pages_(start.pages()), ram_size_(ram_size) {}

  bool read_ram(uint64_t gpa, std::span<uint8_t> data) noexcept override;
  bool write_ram(uint64_t gpa, std::span<const uint8_t> data) noexcept override;
  void mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept override;
  void mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept override;

  /// The byte at `gpa` after lib/x86's writes (the page must be in the snapshot).
  uint8_t byte(uint64_t gpa) const;
  const std::vector<MmioAccess>& mmio() const { return mmio_; }
  /// RAM addresses lib/x86 accessed outside the snapshot (each refused).
  const std::vector<uint64_t>& outside_snapshot() const { return outside_; }

 private:
  uint8_t* find(uint64_t gpa);

  std::map<uint64_t, std::vector<uint8_t>> pages_;
  uint64_t ram_size_;
  std::vector<MmioAccess> mmio_;
  std::vector<uint64_t> outside_;
};

}  // namespace ferry::x86::test

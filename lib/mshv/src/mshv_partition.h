// The state of one MSHV partition that its Vm and its vCPUs share: the partition fd, the guest
// memory regions, the routing table and the clock. vCPUs hold it by shared_ptr, so a vCPU may
// outlive the accel::Vm that made it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "ferry/accel/vm.h"
#include "ferry/base/unique_fd.h"
#include "ferry/mshv/mshv_driver.h"
#include "hvcall.h"

namespace ferry::mshv {

class MshvPartition {
 public:
  /// Takes the fd of a partition that is created and initialized.
  static Expected<std::shared_ptr<MshvPartition>> create(MshvDriver& driver, UniqueFd fd);

  MshvDriver& driver() const { return driver_; }
  int fd() const { return fd_.get(); }
  Hvcall hvcall() const { return Hvcall(driver_, fd_.get()); }

  enum class Backing : uint8_t { kRam, kDevice };  // device memory is never copied as RAM
  Expected<void> map_memory(uint64_t gpa, uint64_t size, void* host, bool writable,
                            Backing backing = Backing::kRam);
  Expected<void> unmap_memory(uint64_t gpa, uint64_t size);
  /// Copies guest RAM; false, with nothing copied, when any byte of the range is not RAM (for a
  /// write: not writable RAM). Device memory is not RAM: its accesses go through GuestIo. Never
  /// allocates: the MMIO path asks it first for every access.
  bool read_ram(uint64_t gpa, std::span<uint8_t> data) const noexcept;
  bool write_ram(uint64_t gpa, std::span<const uint8_t> data) const noexcept;

  /// Replaces the whole routing table (the VMM's IOAPIC pins on GSIs 0-23 and device MSIs).
  Expected<void> set_msi_routes(std::span<const accel::MsiRoute> routes);
  Expected<void> irqfd(int eventfd, uint32_t gsi, std::optional<int> resample_fd, bool deassign);
  Expected<void> ioeventfd(const accel::IoEventFd& event, bool deassign);

  /// Lets guest time run: the partition is created with its clock frozen, so no guest time passes
  /// while the VMM builds the VM. Idempotent; the first vCPU run calls it.
  Expected<void> start_clock() noexcept;

 private:
  struct Region {
    uint64_t gpa;
    uint64_t size;
    uint64_t host;
    bool writable;
    Backing backing;
  };

  MshvPartition(MshvDriver& driver, UniqueFd fd);
  bool copy_guest(uint64_t gpa, uint8_t* buffer, size_t length, bool write) const noexcept;

  MshvDriver& driver_;
  UniqueFd fd_;

  mutable std::mutex memory_mutex_;  // guards regions_; a leaf
  std::vector<Region> regions_;

  std::mutex routes_mutex_;     // guards table_; a leaf
  std::vector<uint8_t> table_;  // the MSHV_SET_MSI_ROUTING argument, sized once for every GSI

  std::mutex clock_mutex_;
  std::atomic<bool> clock_started_{false};
};

}  // namespace ferry::mshv

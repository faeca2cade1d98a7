// An emulated MSI-X table and Pending Bit Array over one irq::MsiVector per entry.
//
// A vector is live (GSI, committed route, irqfd) only while MSI-X is enabled and neither the
// function nor the vector is masked; raised otherwise, it sets its PBA bit and goes out once
// when unmasked. Each guest table write and each Message Control change is one irq::MsiBatch:
// enabling MSI-X with N unmasked entries commits the routing table once, not N times.
//
// Locks: the table's lock is taken before the route table's and is held across the irqfd
// ioctls; nothing here calls back into the device.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ferry/irq/msi_batch.h"
#include "ferry/irq/msi_route_table.h"
#include "ferry/irq/msi_vector.h"

namespace ferry::pci {

class MsixTable {
 public:
  enum class Raised : uint8_t { kSent, kPending, kDropped };

  /// The device side of vector i (an assigned device's VFIO trigger); none when emulated.
  using TriggerFactory = std::function<std::unique_ptr<irq::VectorTrigger>(unsigned)>;

  /// `owner` names the device in log messages; `vectors` is 1-2048.
  MsixTable(std::string owner, unsigned vectors, irq::MsiRouteTable& routes,
            const TriggerFactory& triggers = {});
  ~MsixTable();
  MsixTable(const MsixTable&) = delete;
  MsixTable& operator=(const MsixTable&) = delete;

  unsigned vectors() const { return static_cast<unsigned>(vectors_.size()); }
  uint64_t table_bytes() const;
  uint64_t pba_bytes() const;

  /// Guest read of the table: aligned dwords and qwords; anything else reads all ones.
  uint64_t read_table(uint64_t offset, unsigned size);
  /// Guest write to the table: aligned dwords and qwords; anything else is dropped.
  void write_table(uint64_t offset, unsigned size, uint64_t value);
  /// Guest read of the (read-only) PBA: aligned dwords and qwords; anything else reads all ones.
  uint64_t read_pba(uint64_t offset, unsigned size);

  /// Follows the capability's Message Control; an unmask sends what is pending.
  void set_control(bool enabled, bool function_masked);
  /// The device raises `vector`. Dropped when out of range, while MSI-X is disabled, or when
  /// delivery fails (logged).
  Raised raise(unsigned vector);
  /// Messages sent so far, pending ones sent on unmask included.
  uint32_t sent() const;

 private:
  struct Vector {
    uint32_t address_lo = 0, address_hi = 0, data = 0;
    uint32_t control = 1;  // masked at reset
    std::unique_ptr<irq::MsiVector> msi;
  };

  // With mutex_ held.
  bool deliverable(const Vector& v) const;
  // Hands entry `index` as the guest left it to its MsiVector, within `batch`.
  void sync(irq::MsiBatch& batch, unsigned index);
  void commit(irq::MsiBatch& batch);
  uint32_t read_dword(uint64_t offset) const;
  void write_dword(uint64_t offset, uint32_t value);

  const std::string owner_;
  irq::MsiRouteTable& routes_;
  std::mutex mutex_;  // guards everything below
  std::vector<Vector> vectors_;
  bool enabled_ = false;
  bool function_masked_ = false;
};

}  // namespace ferry::pci

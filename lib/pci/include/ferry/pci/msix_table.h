// An emulated MSI-X table and Pending Bit Array, and the delivery of its vectors through the
// VM's MSI routing table and one irqfd per vector.
//
// A vector goes out only while MSI-X is enabled and neither the function nor the vector is
// masked; raised while masked, it sets its PBA bit and goes out when unmasked. Delivery takes
// the order that loses nothing on MSHV: allocate the GSI, commit the route, register the irqfd,
// signal it. GSIs and irqfds are set up on a vector's first delivery (most vectors of a large
// table are never used; KVM has 4096 routes for the whole VM) and kept until destruction.
//
// Locks: the table's lock is taken before the route table's and is held across the irqfd
// ioctls; nothing here calls back into the device.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ferry/accel/vm.h"
#include "ferry/base/event_fd.h"
#include "ferry/irq/msi_route_table.h"

namespace ferry::pci {

class MsixTable {
 public:
  enum class Raised : uint8_t { kSent, kPending, kDropped };

  /// `owner` names the device in log messages; `vectors` is 1-2048.
  MsixTable(std::string owner, unsigned vectors, accel::Vm& vm, irq::MsiRouteTable& routes);
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
  uint32_t sent() const { return sent_.load(std::memory_order_relaxed); }

 private:
  struct Vector {
    uint32_t address_lo = 0, address_hi = 0, data = 0;
    uint32_t control = 1;  // masked at reset
    bool pending = false;
    std::optional<uint32_t> gsi;
    std::optional<EventFd> irqfd;
    bool irqfd_registered = false;
  };

  // With mutex_ held.
  bool deliverable(const Vector& v) const;
  bool deliver(unsigned index);
  void send_pending();
  uint32_t read_dword(uint64_t offset) const;
  void write_dword(uint64_t offset, uint32_t value);

  const std::string owner_;
  accel::Vm& vm_;
  irq::MsiRouteTable& routes_;
  std::mutex mutex_;  // guards everything below
  std::vector<Vector> vectors_;
  bool enabled_ = false;
  bool function_masked_ = false;
  std::atomic<uint32_t> sent_{0};
};

}  // namespace ferry::pci

#include "ferry/vmm/bus_io.h"
#include "ferry/base/hot_path.h"

namespace ferry::vmm {

FERRY_HOT void BusIo::count(std::atomic<uint64_t>& counter, bool claimed) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (!claimed) {
    unclaimed_count_.store(unclaimed_count_.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
  }
}

FERRY_HOT void BusIo::mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept {
  count(mmio_count_, mmio_.read(gpa, data));
}

FERRY_HOT void BusIo::mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept {
  count(mmio_count_, mmio_.write(gpa, data));
}

FERRY_HOT void BusIo::pio_read(uint16_t port, std::span<uint8_t> data) noexcept {
  count(pio_count_, pio_.read(port, data));
}

FERRY_HOT void BusIo::pio_write(uint16_t port, std::span<const uint8_t> data) noexcept {
  count(pio_count_, pio_.write(port, data));
}

IoCounts BusIo::counts() const {
  return {mmio_count_.load(std::memory_order_relaxed), pio_count_.load(std::memory_order_relaxed),
          unclaimed_count_.load(std::memory_order_relaxed)};
}

}  // namespace ferry::vmm

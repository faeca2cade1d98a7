#include "ferry/bus/bus.h"

#include <algorithm>
#include <cstring>

#include "ferry/base/checked.h"
#include "ferry/base/hot_path.h"

namespace ferry::bus {
namespace {

// Accesses up to 8 bytes (all of KVM's) with fixed-size stores, which the compiler inlines:
// libc's memset uses AVX-512 registers, and vector state the vCPU thread leaves in use is saved
// and restored around every KVM_RUN. (A loop would be turned back into a memset call.)
FERRY_HOT void fill_all_ones(std::span<uint8_t> data) noexcept {
  constexpr uint64_t kOnes = UINT64_MAX;
  uint8_t* at = data.data();
  size_t left = data.size();
  if (left > 8) {
    std::memset(at, 0xff, left);
    return;
  }
  if (left == 8) std::memcpy(at, &kOnes, 8), left = 0;
  if (left >= 4) std::memcpy(at, &kOnes, 4), at += 4, left -= 4;
  if (left >= 2) std::memcpy(at, &kOnes, 2), at += 2, left -= 2;
  if (left == 1) *at = 0xff;
}

}  // namespace

Bus::Bus(std::string name) : name_(std::move(name)), table_(std::make_shared<const Table>()) {}

Expected<void> Bus::insert(uint64_t base, uint64_t size, std::shared_ptr<BusDevice> device) {
  if (size == 0 || !checked_add(base, size - 1)) {
    return fail(Errc::kInvalidArgument, "{} bus: range {:#x}+{:#x} is empty or wraps", name_, base,
                size);
  }
  std::lock_guard lock(writer_mutex_);
  auto table = std::make_shared<Table>(*table_.load());
  for (const Range& r : *table) {
    if (ranges_overlap(base, size, r.base, r.size)) {
      return fail(Errc::kExists, "{} bus: range {:#x}-{:#x} overlaps the claimed {:#x}-{:#x}",
                  name_, base, base + size - 1, r.base, r.base + r.size - 1);
    }
  }
  auto at = std::lower_bound(table->begin(), table->end(), base,
                             [](const Range& r, uint64_t b) { return r.base < b; });
  table->insert(at, Range{base, size, std::move(device)});
  publish(std::move(table));
  return {};
}

Expected<void> Bus::remove(uint64_t base) {
  std::lock_guard lock(writer_mutex_);
  auto table = std::make_shared<Table>(*table_.load());
  auto at =
      std::find_if(table->begin(), table->end(), [&](const Range& r) { return r.base == base; });
  if (at == table->end()) {
    return fail(Errc::kNotFound, "{} bus: no range starts at {:#x}", name_, base);
  }
  table->erase(at);
  publish(std::move(table));
  return {};
}

// The table first, then the version: a Reader that sees the new version loads a table at least
// as new. (One that loads the new table under the old version refreshes again on the next bump.)
void Bus::publish(std::shared_ptr<const Table> table) {
  table_.store(std::move(table));
  version_.fetch_add(1, std::memory_order_release);
}

FERRY_HOT const Bus::Range* Bus::find(const Table& table, uint64_t address,
                                      uint64_t length) noexcept {
  // The last range starting at or below address is the only candidate.
  auto after = std::upper_bound(table.begin(), table.end(), address,
                                [](uint64_t a, const Range& r) { return a < r.base; });
  if (after == table.begin()) return nullptr;
  const Range& r = *std::prev(after);
  return range_fits(address - r.base, length, r.size) ? &r : nullptr;
}

FERRY_HOT bool Bus::read(const Table& table, uint64_t address, std::span<uint8_t> data) noexcept {
  if (const Range* r = find(table, address, data.size())) {
    r->device->read(address - r->base, data);
    return true;
  }
  fill_all_ones(data);
  return false;
}

FERRY_HOT bool Bus::write(const Table& table, uint64_t address,
                          std::span<const uint8_t> data) noexcept {
  if (const Range* r = find(table, address, data.size())) {
    r->device->write(address - r->base, data);
    return true;
  }
  return false;
}

// A reader of one access: its snapshot keeps the device alive during the call.
bool Bus::read(uint64_t address, std::span<uint8_t> data) const noexcept {
  return Reader(*this).read(address, data);
}

bool Bus::write(uint64_t address, std::span<const uint8_t> data) const noexcept {
  return Reader(*this).write(address, data);
}

FERRY_HOT const Bus::Table& Bus::Reader::current() noexcept {
  const uint64_t version = bus_.version_.load(std::memory_order_acquire);
  if (version != version_) {
    table_ = bus_.table_.load();
    version_ = version;
  }
  return *table_;
}

}  // namespace ferry::bus

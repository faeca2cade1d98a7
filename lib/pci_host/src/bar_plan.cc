#include "ferry/pci/host/bar_plan.h"

#include <algorithm>

#include "ferry/base/checked.h"

namespace ferry::pci::host {
namespace {

constexpr uint64_t kPageSize = 4096;

// Free space of one window, as sorted disjoint ranges; allocation is first fit.
class WindowSpace {
 public:
  WindowSpace(std::string name, std::optional<AddressRange> window,
              const std::vector<ReservedRegion>& reserved)
      : name_(std::move(name)) {
    if (!window) return;
    free_.push_back(*window);
    for (const ReservedRegion& r : reserved) cut(r.start, r.end);
  }

  const std::string& name() const { return name_; }

  std::optional<uint64_t> allocate(uint64_t size, uint64_t alignment) {
    for (size_t i = 0; i < free_.size(); ++i) {
      const AddressRange range = free_[i];
      const uint64_t start = align_up(range.start, alignment);
      if (start < range.start || start > range.end) continue;  // wrapped, or no room
      if (range.end - start < size - 1) continue;
      cut(start, start + size - 1);
      return start;
    }
    return std::nullopt;
  }

 private:
  // Removes [start, end] from the free ranges.
  void cut(uint64_t start, uint64_t end) {
    std::vector<AddressRange> kept;
    for (const AddressRange& r : free_) {
      if (end < r.start || start > r.end) {
        kept.push_back(r);
        continue;
      }
      if (r.start < start) kept.push_back({r.start, start - 1});
      if (end < r.end) kept.push_back({end + 1, r.end});
    }
    free_ = std::move(kept);
  }

  std::string name_;
  std::vector<AddressRange> free_;
};

struct Request {
  unsigned index;
  uint64_t size;
  BarKind kind;
};

}  // namespace

bool BarPlan::fits() const {
  return std::all_of(placements.begin(), placements.end(),
                     [](const BarPlacement& p) { return p.guest_address.has_value(); });
}

std::string bar_label(unsigned index) {
  return index == kRomIndex ? "ROM" : "BAR" + std::to_string(index);
}

BarPlan plan_bars(const HostDevice& device, const GuestWindows& windows,
                  const IommuLimits& limits) {
  BarPlan plan;
  plan.windows = windows;
  if (limits.address_bits && *limits.address_bits < 64 && plan.windows.mmio64) {
    const uint64_t top = (uint64_t{1} << *limits.address_bits) - 1;
    if (plan.windows.mmio64->start > top) {
      plan.windows.mmio64.reset();
    } else {
      plan.windows.mmio64->end = std::min(plan.windows.mmio64->end, top);
    }
  }
  WindowSpace mmio32("mmio32", plan.windows.mmio32, limits.reserved);
  WindowSpace mmio64("mmio64", plan.windows.mmio64, limits.reserved);
  WindowSpace io("io", plan.windows.io, {});

  std::vector<Request> requests;
  for (const Bar& bar : device.bars) requests.push_back({bar.index, bar.size, bar.kind});
  if (device.rom) requests.push_back({kRomIndex, device.rom->size, BarKind::kMemory32});
  // Largest first: with power-of-two sizes and natural alignment this leaves no holes.
  std::vector<Request> order = requests;
  std::stable_sort(order.begin(), order.end(),
                   [](const Request& a, const Request& b) { return a.size > b.size; });

  for (const Request& r : requests) plan.placements.push_back({r.index, r.size, "", std::nullopt});
  for (const Request& r : order) {
    BarPlacement& placement =
        *std::find_if(plan.placements.begin(), plan.placements.end(),
                      [&](const BarPlacement& p) { return p.index == r.index; });
    std::vector<WindowSpace*> candidates;
    uint64_t alignment = std::max<uint64_t>(r.size, kPageSize);
    uint64_t size = alignment;
    switch (r.kind) {
      case BarKind::kIo:
        candidates = {&io};
        alignment = size = std::max<uint64_t>(r.size, 4);
        break;
      case BarKind::kMemory64:
        candidates = {&mmio64, &mmio32};
        break;
      case BarKind::kMemory32:
        candidates = {&mmio32};
        break;
    }
    if (r.size == 0 || (r.size & (r.size - 1)) != 0) continue;  // not a real BAR size: no place
    for (WindowSpace* space : candidates) {
      if (auto address = space->allocate(size, alignment)) {
        placement.window = space->name();
        placement.guest_address = *address;
        break;
      }
    }
  }
  return plan;
}

}  // namespace ferry::pci::host

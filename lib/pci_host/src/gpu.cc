#include "ferry/pci/host/gpu.h"

#include <algorithm>
#include <functional>

#include "ferry/base/checked.h"

namespace ferry::pci::host {

bool is_gpu(const HostDevice& device) { return (device.class_code >> 16) == 0x03; }

std::vector<const HostDevice*> slot_companions(const HostDevice& device,
                                               const Inventory& inventory) {
  std::vector<const HostDevice*> companions;
  for (const HostDevice& other : inventory.devices()) {
    const Bdf& a = other.bdf;
    const Bdf& b = device.bdf;
    if (a.domain == b.domain && a.bus == b.bus && a.device == b.device &&
        a.function != b.function) {
      companions.push_back(&other);
    }
  }
  return companions;
}

WindowFit fit_in_window(const std::vector<const HostDevice*>& devices, const AddressRange& window,
                        BarKind kind) {
  std::vector<uint64_t> sizes;
  for (const HostDevice* d : devices) {
    for (const Bar& bar : d->bars) {
      if (bar.kind == kind) sizes.push_back(bar.size);
    }
    if (kind == BarKind::kMemory32 && d->rom) sizes.push_back(d->rom->size);
  }
  WindowFit fit;
  if (sizes.empty()) return {.bytes = 0, .end = 0, .fits = true, .phys_bits_needed = 0};
  std::sort(sizes.begin(), sizes.end(), std::greater<>());
  for (uint64_t size : sizes) fit.bytes += size;  // sizes are at most 2^63 each, few of them
  const uint64_t base = align_up(window.start, sizes.front());
  fit.end = base + fit.bytes - 1;
  fit.fits = base >= window.start && fit.end >= base && fit.end <= window.end;
  fit.phys_bits_needed = 64;
  for (unsigned bits = kMinPhysBits; bits < 64; ++bits) {
    if (fit.end >= base && fit.end < (uint64_t{1} << bits)) {
      fit.phys_bits_needed = bits;
      break;
    }
  }
  return fit;
}

}  // namespace ferry::pci::host

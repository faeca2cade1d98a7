#include "ferry/pci/host/host_device.h"

namespace ferry::pci::host {

const char* bar_kind_name(BarKind kind) {
  switch (kind) {
    case BarKind::kMemory32:
      return "mem32";
    case BarKind::kMemory64:
      return "mem64";
    case BarKind::kIo:
      return "io";
  }
  return "unknown";
}

const Bar* HostDevice::bar(unsigned index) const {
  for (const Bar& b : bars) {
    if (b.index == index) return &b;
  }
  return nullptr;
}

}  // namespace ferry::pci::host

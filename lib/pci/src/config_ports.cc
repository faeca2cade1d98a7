#include "ferry/pci/config_ports.h"

namespace ferry::pci {
namespace {

constexpr uint64_t kData = 4;  // 0xcfc

}  // namespace

uint64_t ConfigPorts::read_register(uint64_t offset, unsigned size) {
  if (offset < kData) {
    return offset == 0 && size == 4 ? address_.load(std::memory_order_relaxed) : ~uint64_t{0};
  }
  const uint32_t a = address_.load(std::memory_order_relaxed);
  if (!(a & kEnable)) return ~uint64_t{0};
  return bus_->read(a >> 16 & 0xff, a >> 11 & 0x1f, a >> 8 & 0x7,
                    static_cast<uint16_t>((a & 0xfc) + (offset - kData)), size);
}

void ConfigPorts::write_register(uint64_t offset, unsigned size, uint64_t value) {
  if (offset < kData) {
    if (offset == 0 && size == 4) {
      address_.store(static_cast<uint32_t>(value) & kAddressBits, std::memory_order_relaxed);
    }
    return;
  }
  const uint32_t a = address_.load(std::memory_order_relaxed);
  if (!(a & kEnable)) return;
  bus_->write(a >> 16 & 0xff, a >> 11 & 0x1f, a >> 8 & 0x7,
              static_cast<uint16_t>((a & 0xfc) + (offset - kData)), size,
              static_cast<uint32_t>(value));
}

}  // namespace ferry::pci

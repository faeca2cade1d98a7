#include "ferry/pci/ecam.h"

namespace ferry::pci {

// The bus hands over offsets inside the window, so the bus number is below 256.
uint64_t Ecam::read_register(uint64_t offset, unsigned size) {
  if (size > 4) return ~uint64_t{0};  // an 8-byte access is not a configuration access
  return bus_->read(static_cast<unsigned>(offset >> 20), offset >> 15 & 0x1f, offset >> 12 & 0x7,
                    static_cast<uint16_t>(offset & 0xfff), size);
}

void Ecam::write_register(uint64_t offset, unsigned size, uint64_t value) {
  bus_->write(static_cast<unsigned>(offset >> 20), offset >> 15 & 0x1f, offset >> 12 & 0x7,
              static_cast<uint16_t>(offset & 0xfff), size, static_cast<uint32_t>(value));
}

}  // namespace ferry::pci

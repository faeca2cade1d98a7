#include "ferry/pci/root_bus.h"

#include "ferry/pci/config_regs.h"
#include "ferry/pci/config_space.h"

namespace ferry::pci {

Expected<void> RootBus::add(unsigned slot, unsigned function_number,
                            std::shared_ptr<PciFunction> function) {
  if (slot >= kSlots || function_number >= kFunctions) {
    return fail(Errc::kInvalidArgument,
                "PCI 00:{:02x}.{}: out of range; slots are 0-31 and functions 0-7", slot,
                function_number);
  }
  if (functions_[slot][function_number]) {
    return fail(Errc::kExists, "PCI 00:{:02x}.{} is already taken", slot, function_number);
  }
  functions_[slot][function_number] = std::move(function);
  return {};
}

Expected<void> RootBus::add_port(unsigned slot, std::shared_ptr<RootPort> port) {
  FERRY_TRY(add(slot, 0, port));
  ports_[slot] = std::move(port);
  return {};
}

bool RootBus::occupied(unsigned slot) const {
  if (slot >= kSlots) return false;
  for (const auto& f : functions_[slot]) {
    if (f) return true;
  }
  return false;
}

std::optional<unsigned> RootBus::free_slot(unsigned first) const {
  for (unsigned slot = first; slot < kSlots; ++slot) {
    if (!occupied(slot)) return slot;
  }
  return std::nullopt;
}

PciFunction* RootBus::find(unsigned bus, unsigned slot, unsigned function, uint16_t offset,
                           unsigned size) const {
  if (slot >= kSlots || function >= kFunctions) return nullptr;
  if (!ConfigSpace::access_ok(offset, size)) return nullptr;
  if (bus == 0) return functions_[slot][function].get();
  // Guest-programmed bus numbers may overlap; the lowest port slot that routes the bus wins.
  for (const auto& port : ports_) {
    if (port && port->routes(bus)) return port->downstream(bus, slot, function);
  }
  return nullptr;
}

uint32_t RootBus::read(unsigned bus, unsigned slot, unsigned function, uint16_t offset,
                       unsigned size) const {
  PciFunction* f = find(bus, slot, function, offset, size);
  if (f == nullptr) return 0xffffffff;
  uint32_t value = f->config_read(offset, size);
  // Software scans functions 1-7 only when function 0 says the device has several.
  if (bus == 0 && function == 0 && offset <= kHeaderType && offset + size > kHeaderType) {
    bool others = false;
    for (unsigned i = 1; i < kFunctions; ++i) others = others || functions_[slot][i];
    if (others) value |= uint32_t{kHeaderTypeMultiFunction} << (8 * (kHeaderType - offset));
  }
  return value;
}

void RootBus::write(unsigned bus, unsigned slot, unsigned function, uint16_t offset, unsigned size,
                    uint32_t value) const {
  if (PciFunction* f = find(bus, slot, function, offset, size)) {
    f->config_write(offset, size, value);
  }
}

}  // namespace ferry::pci

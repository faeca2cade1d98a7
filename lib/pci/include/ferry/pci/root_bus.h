// Bus 0 of the guest: 32 slots of 8 functions, some of them root ports with a bus of their own
// below. Functions are added before the VM runs and never removed (there is no hotplug), so
// configuration accesses take no lock here; each function serializes its own.
#pragma once

#include <array>
#include <memory>
#include <optional>

#include "ferry/base/error.h"
#include "ferry/pci/pci_function.h"
#include "ferry/pci/root_port.h"

namespace ferry::pci {

class RootBus {
 public:
  static constexpr unsigned kSlots = 32;
  static constexpr unsigned kFunctions = 8;

  /// Puts `function` at slot.function_number; fails when out of range or taken.
  Expected<void> add(unsigned slot, unsigned function_number,
                     std::shared_ptr<PciFunction> function);
  /// Puts `port` at slot.0; accesses to the buses it routes go to the device below it.
  Expected<void> add_port(unsigned slot, std::shared_ptr<RootPort> port);
  /// The root port at `slot`, if one is there.
  const RootPort* port(unsigned slot) const { return slot < kSlots ? ports_[slot].get() : nullptr; }
  /// Whether any function sits in `slot`.
  bool occupied(unsigned slot) const;
  /// The lowest slot from `first` on with no function in it.
  std::optional<unsigned> free_slot(unsigned first) const;

  /// A configuration read. Buses no root port routes, empty functions and accesses that are not 1,
  /// 2 or 4 bytes inside one dword of the 4 KiB space read all ones, as a master abort does.
  uint32_t read(unsigned bus, unsigned slot, unsigned function, uint16_t offset,
                unsigned size) const;
  /// A configuration write; dropped where a read would be all ones.
  void write(unsigned bus, unsigned slot, unsigned function, uint16_t offset, unsigned size,
             uint32_t value) const;

 private:
  PciFunction* find(unsigned bus, unsigned slot, unsigned function, uint16_t offset,
                    unsigned size) const;

  std::array<std::array<std::shared_ptr<PciFunction>, kFunctions>, kSlots> functions_;
  std::array<std::shared_ptr<RootPort>, kSlots> ports_;  // also in functions_[slot][0]
};

}  // namespace ferry::pci

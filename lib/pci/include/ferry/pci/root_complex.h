// The guest's host bridge: configuration mechanism #1 at ports 0xcf8-0xcff, an ECAM window, the
// root bus with the bridge's own function at 00:00.0, and the BAR allocator with which it plays
// firmware for the functions added to it, on bus 0 or each behind a root port of its own.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/bus/bus.h"
#include "ferry/pci/bar_allocator.h"
#include "ferry/pci/endpoint.h"
#include "ferry/pci/root_bus.h"

namespace ferry::pci {

struct RootComplexLayout {
  BridgeWindows windows;
  uint64_t ecam_base = 0;
  uint64_t ecam_size = 0;               // 1 MiB per bus, 1 to 256 buses
  std::vector<AddressWindow> excluded;  // where no BAR may go (IOMMU reserved regions)
  std::string mmio64_end;  // where and why the 64-bit window ends (BarAllocator's error)
};

// A PCI interrupt pin of a slot and the GSI it reaches, as firmware tells the guest in _PRT.
struct IntxRoute {
  unsigned slot = 0;
  unsigned pin = 1;  // 1-4: INTA#-INTD#, as the Interrupt Pin register numbers them
  unsigned gsi = 0;
  bool operator==(const IntxRoute&) const = default;
};

class RootComplex {
 public:
  /// Claims the configuration ports and the ECAM window on the buses and puts the bridge's own
  /// function at 00:00.0.
  static Expected<std::unique_ptr<RootComplex>> create(bus::Bus& mmio, bus::Bus& pio,
                                                       const RootComplexLayout& layout);

  /// Where the BARs of functions on this bridge decode.
  BarSpaces bar_spaces() const { return {mmio_, pio_, layout_.windows}; }
  const RootComplexLayout& layout() const { return layout_; }

  /// Puts `endpoint` at function 0 of `slot` (1-31; the lowest free slot when unset) and, as
  /// firmware would, gives its BARs and ROM addresses, leaving decoding off. Returns the slot.
  Expected<unsigned> add(std::shared_ptr<Endpoint> endpoint, std::optional<unsigned> slot);

  /// The interrupt pins of the functions on bus 0 that have one (Interrupt Pin 1-4) and the GSI
  /// their Interrupt Line names, read from their configuration space as the guest would: the
  /// wiring a device's model set up is the one source. One route per slot and pin, by slot.
  std::vector<IntxRoute> intx_routes() const;

  /// Puts a root port at `slot` (1-31; the lowest free slot when unset) with `endpoint` alone on
  /// the next bus below it and, as firmware would, numbers that bus, opens the port's windows
  /// over the endpoint's BARs and gives those their addresses. Returns the port's slot and bus.
  struct PortPlacement {
    unsigned slot = 0;
    unsigned bus = 0;
  };
  Expected<PortPlacement> add_behind_port(std::shared_ptr<Endpoint> endpoint,
                                          std::optional<unsigned> slot);

  /// How many buses firmware numbered: bus 0 and one below each root port (what MCFG and the
  /// host bridge's bus range describe).
  unsigned bus_count() const { return next_bus_; }

 private:
  RootComplex(bus::Bus& mmio, bus::Bus& pio, const RootComplexLayout& layout)
      : mmio_(mmio),
        pio_(pio),
        layout_(layout),
        allocator_(layout.windows, layout.excluded, layout.mmio64_end) {}
  Expected<unsigned> claim_slot(const Endpoint& endpoint, std::optional<unsigned> slot) const;
  // Gives `endpoint`'s BARs addresses from `allocator`; I/O BARs stay unassigned when `skip_io`.
  Expected<void> assign_bars(Endpoint& endpoint, const std::string& where, BarAllocator& allocator,
                             bool skip_io = false);

  bus::Bus& mmio_;
  bus::Bus& pio_;
  RootComplexLayout layout_;
  BarAllocator allocator_;
  std::shared_ptr<RootBus> bus_ = std::make_shared<RootBus>();
  unsigned next_bus_ = 1;
};

}  // namespace ferry::pci

#include "ferry/pci/root_complex.h"

#include <algorithm>
#include <vector>

#include <spdlog/spdlog.h>

#include "ferry/pci/config_ports.h"
#include "ferry/pci/ecam.h"
#include "ferry/pci/ferry_ids.h"

namespace ferry::pci {
namespace {

constexpr uint32_t kHostBridgeClass = 0x060000;

// 00:00.0: the bridge as software sees it, a function with no BARs.
class BridgeFunction final : public Endpoint {
 public:
  explicit BridgeFunction(BarSpaces spaces)
      : Endpoint("host bridge",
                 {.vendor_id = kFerryVendorId,
                  .device_id = kHostBridgeDeviceId,
                  .class_code = kHostBridgeClass,
                  .revision = 1,
                  .subsystem_vendor_id = kFerryVendorId,
                  .subsystem_id = kHostBridgeDeviceId},
                 spaces) {}

 protected:
  // Never called: without BARs nothing is ever put on a bus.
  void bar_read(unsigned, uint64_t, std::span<uint8_t> data) noexcept override {
    std::fill(data.begin(), data.end(), 0xff);
  }
  void bar_write(unsigned, uint64_t, std::span<const uint8_t>) noexcept override {}
};

}  // namespace

Expected<std::unique_ptr<RootComplex>> RootComplex::create(bus::Bus& mmio, bus::Bus& pio,
                                                           const RootComplexLayout& layout) {
  const uint64_t buses = layout.ecam_size / Ecam::kBytesPerBus;
  if (layout.ecam_size % Ecam::kBytesPerBus != 0 || buses == 0 || buses > 256) {
    return fail(Errc::kInvalidArgument,
                "ECAM window of {:#x} bytes: give it 1 MiB per bus, for 1 to 256 buses",
                layout.ecam_size);
  }
  std::unique_ptr<RootComplex> root(new RootComplex(mmio, pio, layout));
  FERRY_TRY(pio.insert(ConfigPorts::kBase, ConfigPorts::kSize,
                       std::make_shared<ConfigPorts>(root->bus_)));
  FERRY_TRY(mmio.insert(layout.ecam_base, layout.ecam_size, std::make_shared<Ecam>(root->bus_)));
  FERRY_TRY(root->bus_->add(0, 0, std::make_shared<BridgeFunction>(root->bar_spaces())));
  return root;
}

Expected<unsigned> RootComplex::claim_slot(const Endpoint& endpoint,
                                           std::optional<unsigned> slot) const {
  if (!slot) {
    slot = bus_->free_slot(1);
    if (!slot) {
      return fail(Errc::kNoResources, "{}: all 31 slots of PCI bus 0 are taken; use fewer devices",
                  endpoint.name());
    }
  }
  if (*slot == 0 || *slot >= RootBus::kSlots) {
    return fail(Errc::kInvalidArgument,
                "{}: slot {} does not exist; use 1-31 (00:00.0 is the host bridge)",
                endpoint.name(), *slot);
  }
  if (bus_->occupied(*slot)) {
    return fail(Errc::kExists, "{}: PCI slot {} (00:{:02x}.0) is already taken; choose another",
                endpoint.name(), *slot, *slot);
  }
  return *slot;
}

Expected<unsigned> RootComplex::add(std::shared_ptr<Endpoint> endpoint,
                                    std::optional<unsigned> slot) {
  FERRY_ASSIGN(unsigned at, claim_slot(*endpoint, slot));
  FERRY_TRY(assign_bars(*endpoint, fmt::format("00:{:02x}.0", at), allocator_));
  FERRY_TRY(bus_->add(at, 0, std::move(endpoint)));
  return at;
}

Expected<RootComplex::PortPlacement> RootComplex::add_behind_port(
    std::shared_ptr<Endpoint> endpoint, std::optional<unsigned> slot) {
  FERRY_ASSIGN(unsigned at, claim_slot(*endpoint, slot));
  if (next_bus_ >= layout_.ecam_size / Ecam::kBytesPerBus) {
    return fail(Errc::kNoResources, "{}: the ECAM window has no bus left for another root port",
                endpoint->name());
  }
  const auto bus = static_cast<uint8_t>(next_bus_);
  const std::string where =
      fmt::format("{:02x}:00.0 (behind the root port at 00:{:02x}.0)", bus, at);
  std::vector<BarSpec> bars;
  for (unsigned index = 0; index <= kRomIndex; ++index) {
    if (endpoint->bar(index)) bars.push_back(*endpoint->bar(index));
  }
  bool io_left_out = false;
  auto windows = allocator_.allocate_port_windows(bars, io_left_out);
  if (!windows)
    return fail(windows.error().context(fmt::format("{} at {}", endpoint->name(), where)));
  if (io_left_out) {
    spdlog::warn(
        "{} at {}: the I/O port window is full, so its I/O BARs stay unassigned (its "
        "memory BARs work; drivers that need I/O ports do not)",
        endpoint->name(), where);
  }
  BarAllocator below = BarAllocator::below_port(*windows);
  FERRY_TRY(assign_bars(*endpoint, where, below, io_left_out));
  FERRY_TRY(bus_->add_port(at, std::make_shared<RootPort>(static_cast<uint8_t>(at), bus, *windows,
                                                          std::move(endpoint))));
  ++next_bus_;
  return PortPlacement{.slot = at, .bus = bus};
}

std::vector<IntxRoute> RootComplex::intx_routes() const {
  std::vector<IntxRoute> routes;
  for (unsigned slot = 1; slot < RootBus::kSlots; ++slot) {
    for (unsigned function = 0; function < RootBus::kFunctions; ++function) {
      // A device below a root port is device 0 of its bus, whose pins reach the port's slot
      // unswizzled (PCI-to-PCI Bridge 1.2, 9.1): its pin and line stand for the slot's.
      const RootPort* port = bus_->port(slot);
      const uint32_t line_and_pin = port == nullptr
                                        ? bus_->read(0, slot, function, kInterruptLine, 2)
                                    : function == 0 ? port->device().config_read(kInterruptLine, 2)
                                                    : 0xffff;
      const unsigned pin = (line_and_pin >> 8) & 0xff;
      const unsigned line = line_and_pin & 0xff;
      // All ones: no function; pin 0: no INTx; line 0xff: connected nowhere (PCI 3.0, 6.2.4).
      if (line_and_pin == 0xffff || pin < 1 || pin > 4 || line == 0xff) continue;
      // Functions of a slot that share a pin share its wire: the first one names it.
      const bool known = std::any_of(routes.begin(), routes.end(), [&](const IntxRoute& r) {
        return r.slot == slot && r.pin == pin;
      });
      if (!known) routes.push_back({.slot = slot, .pin = pin, .gsi = line});
    }
  }
  return routes;
}

Expected<void> RootComplex::assign_bars(Endpoint& endpoint, const std::string& where,
                                        BarAllocator& allocator, bool skip_io) {
  // Largest first, so that natural alignment wastes the least of the windows.
  std::vector<unsigned> order;
  for (unsigned index = 0; index <= kRomIndex; ++index) {
    if (endpoint.bar(index) && !(skip_io && endpoint.bar(index)->kind == BarKind::kIo)) {
      order.push_back(index);
    }
  }
  std::stable_sort(order.begin(), order.end(), [&](unsigned a, unsigned b) {
    return endpoint.bar(a)->size > endpoint.bar(b)->size;
  });
  for (unsigned index : order) {
    const BarSpec spec = *endpoint.bar(index);
    auto address = allocator.allocate(spec);
    if (!address) {
      return fail(address.error().context(
          fmt::format("{} at {}: {}", endpoint.name(), where,
                      index == kRomIndex ? std::string("ROM") : fmt::format("BAR {}", index))));
    }
    // The firmware's config writes; the guest can move the BAR later the same way.
    const uint16_t reg = index == kRomIndex ? kRomBar : kBar0 + 4 * index;
    endpoint.config_write(reg, 4, static_cast<uint32_t>(*address));
    if (spec.kind == BarKind::kMemory64) {
      endpoint.config_write(reg + 4, 4, static_cast<uint32_t>(*address >> 32));
    }
  }
  return {};
}

}  // namespace ferry::pci

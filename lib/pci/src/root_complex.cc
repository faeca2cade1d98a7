#include "ferry/pci/root_complex.h"

#include <algorithm>
#include <vector>

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

Expected<unsigned> RootComplex::add(std::shared_ptr<Endpoint> endpoint,
                                    std::optional<unsigned> slot) {
  if (!slot) {
    slot = bus_->free_slot(1);
    if (!slot) {
      return fail(Errc::kNoResources,
                  "{}: all 31 slots of PCI bus 0 are taken; the guest bus "
                  "has no bridges to hang more devices on",
                  endpoint->name());
    }
  }
  if (*slot == 0 || *slot >= RootBus::kSlots) {
    return fail(Errc::kInvalidArgument,
                "{}: slot {} does not exist; use 1-31 (00:00.0 is the host bridge)",
                endpoint->name(), *slot);
  }
  if (bus_->occupied(*slot)) {
    return fail(Errc::kExists, "{}: PCI slot {} (00:{:02x}.0) is already taken; choose another",
                endpoint->name(), *slot, *slot);
  }
  FERRY_TRY(assign_bars(*endpoint, *slot));
  FERRY_TRY(bus_->add(*slot, 0, std::move(endpoint)));
  return *slot;
}

std::vector<IntxRoute> RootComplex::intx_routes() const {
  std::vector<IntxRoute> routes;
  for (unsigned slot = 1; slot < RootBus::kSlots; ++slot) {
    for (unsigned function = 0; function < RootBus::kFunctions; ++function) {
      const uint32_t line_and_pin = bus_->read(0, slot, function, kInterruptLine, 2);
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

Expected<void> RootComplex::assign_bars(Endpoint& endpoint, unsigned slot) {
  // Largest first, so that natural alignment wastes the least of the windows.
  std::vector<unsigned> order;
  for (unsigned index = 0; index <= kRomIndex; ++index) {
    if (endpoint.bar(index)) order.push_back(index);
  }
  std::stable_sort(order.begin(), order.end(), [&](unsigned a, unsigned b) {
    return endpoint.bar(a)->size > endpoint.bar(b)->size;
  });
  for (unsigned index : order) {
    const BarSpec spec = *endpoint.bar(index);
    auto address = allocator_.allocate(spec);
    if (!address) {
      return fail(address.error().context(
          fmt::format("{} at 00:{:02x}.0: {}", endpoint.name(), slot,
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

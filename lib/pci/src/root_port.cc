#include "ferry/pci/root_port.h"

#include "ferry/pci/capabilities.h"
#include "ferry/pci/config_regs.h"
#include "ferry/pci/ferry_ids.h"

namespace ferry::pci {
namespace {

constexpr uint32_t kPciBridgeClass = 0x060400;
// I/O, memory, bus master, parity, SERR, INTx disable: what a bridge's command register holds.
constexpr uint16_t kBridgeCommandWritable = 0x0547;
// Parity error response, SERR forwarding, ISA, master abort mode, Secondary Bus Reset. VGA
// forwarding stays off: the legacy VGA ranges never reach an assigned device.
constexpr uint16_t kBridgeControlWritable = 0x0067;
constexpr uint16_t kIoGranuleMask = 0xf0;        // bits 15:12 of an I/O address
constexpr uint16_t kMemoryGranuleMask = 0xfff0;  // bits 31:20 of a memory address

uint64_t last(const AddressWindow& w) { return w.base + (w.size - 1); }

}  // namespace

RootPort::RootPort(uint8_t port_number, uint8_t bus, const PortWindows& windows,
                   std::shared_ptr<PciFunction> device)
    : device_(std::move(device)) {
  config_.set(kVendorId, 2, kFerryVendorId);
  config_.set(kDeviceId, 2, kRootPortDeviceId);
  config_.set(kClassCode, 3, kPciBridgeClass);
  config_.set(kHeaderType, 1, kHeaderTypeBridge);
  config_.set_writable(kCommand, 2, kBridgeCommandWritable);
  config_.set_write_one_to_clear(kStatus, 2, kStatusErrorBits);
  config_.set_write_one_to_clear(kSecondaryStatus, 2, kStatusErrorBits);
  config_.set(kSecondaryBus, 1, bus);
  config_.set(kSubordinateBus, 1, bus);
  config_.set_writable(kPrimaryBus, 4, 0xffffffff);  // the three bus numbers and the latency timer
  config_.set_writable(kIoBase, 2, kIoGranuleMask << 8 | kIoGranuleMask);
  config_.set_writable(kMemoryBase, 4, uint32_t{kMemoryGranuleMask} << 16 | kMemoryGranuleMask);
  config_.set_writable(kPrefetchableBase, 4,
                       uint32_t{kMemoryGranuleMask} << 16 | kMemoryGranuleMask);
  config_.set_writable(kPrefetchableBaseUpper, 4, 0xffffffff);
  config_.set_writable(kPrefetchableLimitUpper, 4, 0xffffffff);
  config_.set_writable(kInterruptLine, 1, 0xff);
  config_.set_writable(kBridgeControl, 2, kBridgeControlWritable);
  set_windows(windows);
  // Cannot fail: the list is empty and the capability fits.
  (void)add_root_port_pcie_capability(config_, port_number);
  secondary_ = bus;
  subordinate_ = bus;
}

void RootPort::set_windows(const PortWindows& w) {
  // A closed window has its base above its limit, as firmware leaves an unused one.
  if (w.io.size) {
    config_.set(kIoBase, 1, (w.io.base >> 8) & kIoGranuleMask);
    config_.set(kIoLimit, 1, (last(w.io) >> 8) & kIoGranuleMask);
  } else {
    config_.set(kIoBase, 1, kIoGranuleMask);
  }
  if (w.memory.size) {
    config_.set(kMemoryBase, 2, (w.memory.base >> 16) & kMemoryGranuleMask);
    config_.set(kMemoryLimit, 2, (last(w.memory) >> 16) & kMemoryGranuleMask);
  } else {
    config_.set(kMemoryBase, 2, kMemoryGranuleMask);
  }
  if (w.prefetchable.size) {
    config_.set(kPrefetchableBase, 2,
                ((w.prefetchable.base >> 16) & kMemoryGranuleMask) | kPrefetchable64);
    config_.set(kPrefetchableLimit, 2,
                ((last(w.prefetchable) >> 16) & kMemoryGranuleMask) | kPrefetchable64);
    config_.set(kPrefetchableBaseUpper, 4, static_cast<uint32_t>(w.prefetchable.base >> 32));
    config_.set(kPrefetchableLimitUpper, 4, static_cast<uint32_t>(last(w.prefetchable) >> 32));
  } else {
    config_.set(kPrefetchableBase, 2, kMemoryGranuleMask | kPrefetchable64);
    config_.set(kPrefetchableLimit, 2, kPrefetchable64);
  }
}

uint32_t RootPort::config_read(uint16_t offset, unsigned size) {
  std::lock_guard lock(mutex_);
  return config_.read(offset, size);
}

void RootPort::config_write(uint16_t offset, unsigned size, uint32_t value) {
  bool reset = false;
  {
    std::lock_guard lock(mutex_);
    const bool was_in_reset = config_.get(kBridgeControl, 2) & kBridgeControlSecondaryReset;
    config_.write(offset, size, value);
    const bool in_reset = config_.get(kBridgeControl, 2) & kBridgeControlSecondaryReset;
    reset = in_reset && !was_in_reset;
    secondary_ = static_cast<uint8_t>(config_.get(kSecondaryBus, 1));
    subordinate_ = static_cast<uint8_t>(config_.get(kSubordinateBus, 1));
  }
  // Outside the port's lock: the device takes its own locks and a hardware reset takes a while.
  if (reset) device_->secondary_bus_reset();
}

bool RootPort::routes(unsigned bus) const {
  const unsigned secondary = secondary_;
  // Bus 0 is the root bus itself: a port whose secondary bus is 0 is not configured.
  return secondary != 0 && bus >= secondary && bus <= subordinate_;
}

PciFunction* RootPort::downstream(unsigned bus, unsigned slot, unsigned function) const {
  if (bus != secondary_ || !routes(bus) || slot != 0 || function != 0) return nullptr;
  return device_.get();
}

}  // namespace ferry::pci

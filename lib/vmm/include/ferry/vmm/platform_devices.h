// The devices every ferry VM has beside PCI: the IOAPIC, COM1's 16550, the exit port, the ACPI
// power registers and the test device, where the memory map puts them. Machine builds them with
// this, and so does the device-model fuzzer, so the fuzzer drives the platform a guest really sees.
#pragma once

#include <memory>

#include "ferry/base/error.h"
#include "ferry/bus/bus.h"
#include "ferry/irq/ioapic.h"
#include "ferry/irq/msi_route_table.h"
#include "ferry/vmm/exit_device.h"
#include "ferry/vmm/power_control.h"
#include "ferry/vmm/serial_16550.h"
#include "ferry/vmm/serial_output.h"

namespace ferry::vmm {

struct PlatformDevices {
  std::shared_ptr<irq::Ioapic> ioapic;  // its pins carry INTx too
  std::shared_ptr<Serial16550> com1;    // the host console's input goes here
};

/// Puts the platform devices on the buses; COM1 writes to `serial` and interrupts through the
/// IOAPIC, the exit port calls `on_exit`, the power registers `power`'s events.
Expected<PlatformDevices> add_platform_devices(bus::Bus& mmio, bus::Bus& pio,
                                               irq::MsiRouteTable& routes, SerialOutput serial,
                                               ExitDevice::OnExit on_exit,
                                               PowerControl::Events power);

}  // namespace ferry::vmm

#include "ferry/vmm/platform_devices.h"

#include "ferry/guests/testdev.h"
#include "ferry/vmm/memory_layout.h"
#include "ferry/vmm/serial_16550.h"
#include "ferry/vmm/test_device.h"

namespace ferry::vmm {

Expected<PlatformDevices> add_platform_devices(bus::Bus& mmio, bus::Bus& pio,
                                               irq::MsiRouteTable& routes, SerialOutput serial,
                                               ExitDevice::OnExit on_exit,
                                               PowerControl::Events power) {
  FERRY_ASSIGN(std::shared_ptr<irq::Ioapic> ioapic, irq::Ioapic::create(routes));
  FERRY_TRY(mmio.insert(kIoapicAddress, irq::Ioapic::kMmioSize, ioapic));
  auto com1 = std::make_shared<Serial16550>(std::move(serial), &ioapic->line(kCom1Irq));
  FERRY_TRY(pio.insert(kCom1Port, kUartPorts, com1));
  FERRY_TRY(pio.insert(FERRY_EXIT_PORT, 1, std::make_shared<ExitDevice>(std::move(on_exit))));
  FERRY_TRY(pio.insert(kPowerControlPort, kPowerControlPorts,
                       std::make_shared<PowerControl>(std::move(power))));
  FERRY_ASSIGN(auto test_device, TestDevice::create(routes));
  FERRY_TRY(mmio.insert(FERRY_TESTDEV_BASE, FERRY_TESTDEV_SIZE, std::move(test_device)));
  return PlatformDevices{.ioapic = std::move(ioapic), .com1 = std::move(com1)};
}

}  // namespace ferry::vmm

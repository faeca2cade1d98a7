// The PCI IDs of the functions ferry itself presents. 0x1234 is not registered to ferry: it is the
// vendor ID emulators customarily give their own devices. The test guests' copy of these
// (guests/include/ferry/guests/pcitest.h) is checked against them at build time.
#pragma once

#include <cstdint>

namespace ferry::pci {

constexpr uint16_t kFerryVendorId = 0x1234;
constexpr uint16_t kHostBridgeDeviceId = 0xfe00;  // 00:00.0
constexpr uint16_t kTestDeviceId = 0xfe01;        // the PCI test device
constexpr uint16_t kRootPortDeviceId = 0xfe02;    // a root port above an assigned device

}  // namespace ferry::pci

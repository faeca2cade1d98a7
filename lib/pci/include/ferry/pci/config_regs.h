// Offsets and bits of the type-0 configuration header and of the capabilities ferry emulates
// (PCI Local Bus 3.0, PCI Express Base, MSI-X ECN). Only what the guest bus uses is named.
#pragma once

#include <cstdint>

namespace ferry::pci {

// The header.
constexpr uint16_t kVendorId = 0x00;
constexpr uint16_t kDeviceId = 0x02;
constexpr uint16_t kCommand = 0x04;
constexpr uint16_t kStatus = 0x06;
constexpr uint16_t kRevision = 0x08;
constexpr uint16_t kClassCode = 0x09;  // 3 bytes: programming interface, subclass, class
constexpr uint16_t kCacheLineSize = 0x0c;
constexpr uint16_t kHeaderType = 0x0e;
constexpr uint16_t kBar0 = 0x10;
constexpr uint16_t kSubsystemVendorId = 0x2c;
constexpr uint16_t kSubsystemId = 0x2e;
constexpr uint16_t kRomBar = 0x30;
constexpr uint16_t kCapabilityPointer = 0x34;
constexpr uint16_t kInterruptLine = 0x3c;
constexpr uint16_t kInterruptPin = 0x3d;
constexpr uint16_t kHeaderEnd = 0x40;  // capabilities live in [0x40, 0x100)

constexpr unsigned kBarCount = 6;
constexpr unsigned kRomIndex = kBarCount;  // the ROM as a seventh decoder

constexpr uint16_t kCommandIo = 1u << 0;
constexpr uint16_t kCommandMemory = 1u << 1;
constexpr uint16_t kCommandBusMaster = 1u << 2;
constexpr uint16_t kCommandParity = 1u << 6;
constexpr uint16_t kCommandSerr = 1u << 8;
constexpr uint16_t kCommandIntxDisable = 1u << 10;

constexpr uint16_t kStatusCapabilityList = 1u << 4;
// Error bits software clears by writing 1: master data parity error, signalled/received target
// abort, received master abort, signalled system error, detected parity error.
constexpr uint16_t kStatusErrorBits = 0xf900;

constexpr uint8_t kHeaderTypeMultiFunction = 0x80;
constexpr uint8_t kHeaderTypeBridge = 0x01;

// The type-1 (PCI-to-PCI bridge) header, where it differs from type 0.
constexpr uint16_t kPrimaryBus = 0x18;
constexpr uint16_t kSecondaryBus = 0x19;
constexpr uint16_t kSubordinateBus = 0x1a;
constexpr uint16_t kSecondaryLatency = 0x1b;
constexpr uint16_t kIoBase = 0x1c;  // and I/O limit at 0x1d: address bits 15:12
constexpr uint16_t kIoLimit = 0x1d;
constexpr uint16_t kSecondaryStatus = 0x1e;
constexpr uint16_t kMemoryBase = 0x20;  // and memory limit at 0x22: address bits 31:20
constexpr uint16_t kMemoryLimit = 0x22;
constexpr uint16_t kPrefetchableBase = 0x24;  // and limit at 0x26; upper halves at 0x28, 0x2c
constexpr uint16_t kPrefetchableLimit = 0x26;
constexpr uint16_t kPrefetchableBaseUpper = 0x28;
constexpr uint16_t kPrefetchableLimitUpper = 0x2c;
constexpr uint16_t kBridgeRomBar = 0x38;
constexpr uint16_t kBridgeControl = 0x3e;

constexpr uint16_t kPrefetchable64 = 0x1;  // low nibble of the prefetchable base and limit
constexpr uint16_t kBridgeControlSecondaryReset = 1u << 6;

constexpr uint32_t kBarIo = 1u << 0;
constexpr uint32_t kBarMemory64 = 2u << 1;
constexpr uint32_t kBarPrefetchable = 1u << 3;
constexpr uint32_t kRomEnable = 1u << 0;
constexpr uint32_t kRomAddressMask = ~0x7ffu;

// Capability IDs.
constexpr uint8_t kCapMsi = 0x05;
constexpr uint8_t kCapPcie = 0x10;
constexpr uint8_t kCapMsix = 0x11;

// MSI capability, relative to its offset.
constexpr uint16_t kMsiControl = 0x02;
constexpr uint16_t kMsiEnable = 1u << 0;
constexpr uint16_t kMsiMultipleEnableMask = 0x0070;
constexpr uint16_t kMsi64Bit = 1u << 7;
constexpr uint16_t kMsiPerVectorMask = 1u << 8;
constexpr uint16_t kMsiAddress = 0x04;

// MSI-X capability, relative to its offset.
constexpr uint16_t kMsixControl = 0x02;
constexpr uint16_t kMsixTable = 0x04;
constexpr uint16_t kMsixPba = 0x08;
constexpr unsigned kMsixCapabilitySize = 12;
constexpr uint16_t kMsixTableSizeMask = 0x07ff;
constexpr uint16_t kMsixFunctionMask = 1u << 14;
constexpr uint16_t kMsixEnable = 1u << 15;
constexpr unsigned kMsixMaxVectors = 2048;
constexpr unsigned kMsixEntrySize = 16;
constexpr uint16_t kMsixEntryAddressLo = 0x0;
constexpr uint16_t kMsixEntryAddressHi = 0x4;
constexpr uint16_t kMsixEntryData = 0x8;
constexpr uint16_t kMsixEntryControl = 0xc;
constexpr uint32_t kMsixEntryMasked = 1u << 0;

// PCI Express capability (version 2), relative to its offset.
constexpr unsigned kPcieCapabilitySize = 0x3c;
constexpr uint16_t kPcieFlags = 0x02;
constexpr uint16_t kPcieDeviceCapabilities = 0x04;
constexpr uint16_t kPcieDeviceControl = 0x08;
constexpr uint16_t kPcieDeviceStatus = 0x0a;
constexpr uint16_t kPcieLinkCapabilities = 0x0c;
constexpr uint16_t kPcieLinkControl = 0x10;
constexpr uint16_t kPcieLinkStatus = 0x12;
constexpr uint16_t kPcieRootControl = 0x1c;
constexpr uint16_t kPcieRootStatus = 0x20;
constexpr uint16_t kPcieDeviceControl2 = 0x28;
constexpr uint16_t kPcieLinkCapabilities2 = 0x2c;
constexpr uint16_t kPcieLinkControl2 = 0x30;

}  // namespace ferry::pci

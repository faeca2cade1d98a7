#include "ferry/vmm/pci_platform.h"

#include <gtest/gtest.h>

#include "ferry/base/units.h"
#include "ferry/pci/host/bdf.h"
#include "ferry/vmm/config_loader.h"
#include "ferry/vmm/cpuid.h"
#include "ferry/vmm/memory_layout.h"
#include "support/mock_accel.h"

namespace ferry::vmm {
namespace {

using ::testing::StrictMock;

TEST(PciWindows, The64BitWindowStartsAbove4GiBAndRamAndEndsWithThePhysicalAddressBits) {
  const pci::BridgeWindows small = pci_windows(64 * kMiB, 46);
  EXPECT_EQ(small.mmio32.base, 0xc0000000u);
  EXPECT_EQ(small.mmio32.size, 512 * kMiB);
  EXPECT_EQ(small.io.base, 0xc000u);
  EXPECT_EQ(small.io.size, 0x4000u);
  EXPECT_EQ(small.mmio64.base, 4 * kGiB);
  EXPECT_EQ(small.mmio64.base + small.mmio64.size, uint64_t{1} << 46);
  // 3.5 GiB of RAM: 512 MiB above 4 GiB, so the window starts at the next GiB, 5 GiB.
  EXPECT_EQ(pci_windows(3 * kGiB + 512 * kMiB, 46).mmio64.base, 5 * kGiB);
  EXPECT_EQ(pci_windows(4 * kGiB, 46).mmio64.base, 5 * kGiB);
  EXPECT_EQ(pci_windows(3 * kGiB, 46).mmio64.base, 4 * kGiB);
  // No room above RAM: the window is empty rather than wrapped.
  EXPECT_EQ(pci_windows(64 * kMiB, 32).mmio64.size, 0u);
  EXPECT_EQ(pci_windows(kMaxRamSize, 40).mmio64.size, 0u);
  EXPECT_EQ(pci_windows(64 * kMiB, 36).mmio64.size, 60 * kGiB);
}

TEST(PciWindows, PhysicalAddressBitsComeFromCpuidLeaf80000008) {
  std::vector<accel::CpuidEntry> table = {{.function = 0x1}};
  EXPECT_EQ(physical_address_bits(table), 36u);
  table.push_back({.function = 0x80000008, .eax = 0x3028});
  EXPECT_EQ(physical_address_bits(table), 40u);
}

TEST(PciWindows, TheLayoutKeepsPciClearOfRamAndPlatformDevices) {
  EXPECT_GE(kPciMmio32Base, kLowRamLimit);
  EXPECT_LE(kPciMmio32Base + kPciMmio32Size, kPciEcamBase);
  EXPECT_LE(kPciEcamBase + kPciEcamSize, 0xfeb00000u);  // the MMIO test device
  EXPECT_GE(kPciIoBase, 0x1000u);  // legacy ports (COM1, the exit port, 0xcf8) stay below
}

Expected<VmConfig> parse(const std::string& yaml) {
  return parse_vm_config(yaml, "vm.yaml", "/tmp");
}

TEST(DevicesSpec, PciTestDevicesWithAndWithoutSlots) {
  auto config = parse(
      "payload: {builtin: hello}\n"
      "devices:\n"
      "  - type: pci-test\n"
      "  - {type: pci-test, slot: 7}\n"
      "  - {type: pci-test, slot: 0x1f}\n");
  ASSERT_TRUE(config) << config.error().message();
  ASSERT_EQ(config->devices.size(), 3u);
  EXPECT_EQ(config->devices[0].type, DeviceType::kPciTest);
  EXPECT_EQ(config->devices[0].slot, std::nullopt);
  EXPECT_EQ(config->devices[1].slot, 7u);
  EXPECT_EQ(config->devices[2].slot, 31u);
  EXPECT_TRUE(parse("payload: {builtin: hello}\ndevices: []\n"));
  auto host = parse("payload: {builtin: hello}\ndevices: [{vfio: '01:00.0', slot: 4}]\n");
  ASSERT_TRUE(host) << host.error().message();
  EXPECT_EQ(host->devices[0].type, DeviceType::kVfio);
  EXPECT_EQ(host->devices[0].host_bdf, "0000:01:00.0");
  EXPECT_EQ(host->devices[0].slot, 4u);
  EXPECT_TRUE(parse("payload: {builtin: hello}\ndevices:\n"));
}

TEST(DevicesSpec, MistakesAreNamedWithTheirPlace) {
  auto error = [](const std::string& devices) {
    auto config = parse("payload: {builtin: hello}\ndevices: " + devices + "\n");
    return config ? std::string("accepted") : config.error().message();
  };
  EXPECT_EQ(error("{type: pci-test}"),
            "vm.yaml:2:10: devices: must be a list, e.g. devices: [{type: pci-test}]");
  EXPECT_EQ(error("[{slot: 3}]"),
            "vm.yaml:2:11: devices[0].type: is missing; say which device: type: pci-test, or "
            "vfio: <host BDF> to assign a host device");
  EXPECT_EQ(error("[{type: nvme}]"),
            "vm.yaml:2:18: devices[0].type: 'nvme' is not one of: pci-test");
  EXPECT_EQ(error("[{type: pci-test, slto: 3}]"),
            "vm.yaml:2:28: unknown key 'slto' in devices[0] (did you mean 'slot'?); allowed: "
            "type, slot, vfio, root_port");
  EXPECT_EQ(error("[{type: pci-test, slot: 32}]"),
            "vm.yaml:2:34: devices[0].slot: '32' is not a whole number from 0 to 31");
  EXPECT_EQ(error("[{type: pci-test, slot: 0}]"),
            "vm.yaml:2:34: devices[0].slot: slot 0 is the host bridge (00:00.0); use 1 to 31 or "
            "leave slot out");
  EXPECT_EQ(error("[{type: pci-test, slot: 4}, {type: pci-test, slot: 4}]"),
            "vm.yaml:2:61: devices[1].slot: slot 4 is already taken by devices[0]; choose "
            "another from 1 to 31 or leave slot out");
  EXPECT_EQ(
      error("[pci-test]"),
      "vm.yaml:2:11: devices[0]: must be a mapping with keys type, slot, vfio, root_port, not a "
      "scalar");
  EXPECT_EQ(error("[{vfio: 01:00.0x}]"),
            "vm.yaml:2:18: devices[0].vfio: " +
                std::string(pci::host::Bdf::parse("01:00.0x").error().message()) +
                "; give the host device's PCI address as ferry devices lists it, e.g. vfio: "
                "0000:01:00.0");
  EXPECT_EQ(error("[{vfio: 0000:01:00.0, type: pci-test}]"),
            "vm.yaml:2:38: devices[0].type: a vfio entry names a host device, not a type; "
            "remove type");
  EXPECT_EQ(error("[{vfio: 0000:01:00.0}, {vfio: '01:00.0'}]"),
            "vm.yaml:2:40: devices[1].vfio: 0000:01:00.0 is already assigned by devices[0]; a "
            "device goes to one guest slot");
  std::string many = "[";
  for (int i = 0; i < 32; ++i) many += "{type: pci-test},";
  many.back() = ']';
  EXPECT_EQ(error(many),
            "vm.yaml:2:10: devices: 32 devices do not fit the 31 free slots of PCI bus 0 (a root "
            "port takes a slot too); remove 1");
  EXPECT_EQ(error("[{vfio: 0000:01:00.0, root_port: yes}]"),
            "vm.yaml:2:43: devices[0].root_port: 'yes' is not one of: true, false");
}

TEST(DevicesSpec, OverridesNameTheSetThatPutTheValueThere) {
  const std::vector<ConfigOverride> set = {{"devices", "[{type: pci-test, slot: 40}]"}};
  auto config = parse_vm_config("payload: {builtin: hello}\n", "vm.yaml", "/tmp", set);
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message(),
            "--set devices=[{type: pci-test, slot: 40}]: devices[0].slot: '40' is not a whole "
            "number from 0 to 31");
}

TEST(CreatePci, PutsTheSpecsDevicesOnBus0) {
  test::StrictMockVm vm;
  irq::MsiRouteTable routes(vm);
  bus::Bus mmio("mmio"), pio("port");
  VmConfig config;
  config.devices = {{DeviceType::kPciTest, 9, {}}, {DeviceType::kPciTest, std::nullopt, {}}};
  auto root = create_pci(config, 46, routes, mmio, pio);
  ASSERT_TRUE(root) << root.error().message();
  auto vendor_device = [&](unsigned slot) {
    uint32_t value = 0;
    mmio.read(kPciEcamBase + (slot << 15), {reinterpret_cast<uint8_t*>(&value), 4});
    return value;
  };
  EXPECT_EQ(vendor_device(0), 0xfe001234u);
  EXPECT_EQ(vendor_device(9), 0xfe011234u);
  EXPECT_EQ(vendor_device(1), 0xfe011234u);
  EXPECT_EQ(vendor_device(2), 0xffffffffu);
}

TEST(CreatePci, ADeviceThatCannotBePlacedNamesItsSpecEntry) {
  test::StrictMockVm vm;
  irq::MsiRouteTable routes(vm);
  bus::Bus mmio("mmio"), pio("port");
  VmConfig config;  // built in code, so the parser's duplicate-slot check did not run
  config.devices = {{DeviceType::kPciTest, 3, {}}, {DeviceType::kPciTest, 3, {}}};
  auto root = create_pci(config, 46, routes, mmio, pio);
  ASSERT_FALSE(root);
  EXPECT_EQ(root.error().message(),
            "devices[1] (pci-test): pci-test: PCI slot 3 (00:03.0) is already taken; choose "
            "another");
}

}  // namespace
}  // namespace ferry::vmm

#include "ferry/pci/pci_test_device.h"

#include <cstring>
#include <string_view>

#include "ferry/guests/pcitest.h"
#include "ferry/pci/capabilities.h"
#include "ferry/pci/ferry_ids.h"

namespace ferry::pci {
namespace {

// The test guests carry their own copy of the IDs they look for.
static_assert(FERRY_PCI_VENDOR_ID == kFerryVendorId);
static_assert(FERRY_PCI_BRIDGE_DEVICE_ID == kHostBridgeDeviceId);
static_assert(FERRY_PCI_TEST_DEVICE_ID == kTestDeviceId);

constexpr std::string_view kRomText = "ferry pci-test";

// Little-endian value of a 1-8 byte access, and back.
uint64_t load(std::span<const uint8_t> data) {
  uint64_t value = 0;
  std::memcpy(&value, data.data(), std::min(data.size(), sizeof value));
  return value;
}
void store(std::span<uint8_t> data, uint64_t value) {
  std::memset(data.data(), 0xff, data.size());
  std::memcpy(data.data(), &value, std::min(data.size(), sizeof value));
}

bool inside(uint64_t offset, uint64_t base, uint64_t length) {
  return offset >= base && offset - base < length;
}

}  // namespace

PciTestDevice::PciTestDevice(BarSpaces spaces, irq::MsiRouteTable& routes)
    : Endpoint("pci-test",
               {.vendor_id = FERRY_PCI_VENDOR_ID,
                .device_id = FERRY_PCI_TEST_DEVICE_ID,
                .class_code = FERRY_PCI_TEST_CLASS,
                .revision = FERRY_PCI_TEST_REVISION,
                .subsystem_vendor_id = FERRY_PCI_VENDOR_ID,
                .subsystem_id = FERRY_PCI_TEST_DEVICE_ID},
               std::move(spaces)),
      msix_("pci-test", FERRY_PCITEST_VECTORS, routes) {}

Expected<std::shared_ptr<PciTestDevice>> PciTestDevice::create(BarSpaces spaces,
                                                               irq::MsiRouteTable& routes) {
  std::shared_ptr<PciTestDevice> device(new PciTestDevice(std::move(spaces), routes));
  FERRY_TRY(device->set_up());
  return device;
}

Expected<void> PciTestDevice::set_up() {
  FERRY_TRY(add_bar(FERRY_PCITEST_REGS_BAR, {BarKind::kMemory32, FERRY_PCITEST_REGS_SIZE}));
  FERRY_TRY(add_bar(FERRY_PCITEST_IO_BAR, {BarKind::kIo, FERRY_PCITEST_IO_SIZE}));
  FERRY_TRY(add_bar(FERRY_PCITEST_MSIX_BAR, {BarKind::kMemory64, FERRY_PCITEST_MSIX_SIZE}));
  std::vector<uint8_t> rom(FERRY_PCITEST_ROM_SIZE, 0);
  rom[0] = 0x55;
  rom[1] = 0xaa;
  std::memcpy(&rom[2], kRomText.data(), kRomText.size());
  FERRY_TRY(set_rom(std::move(rom)));
  FERRY_ASSIGN(msix_capability_,
               add_msix_capability(config(), {.vectors = FERRY_PCITEST_VECTORS,
                                              .table_bar = FERRY_PCITEST_MSIX_BAR,
                                              .table_offset = FERRY_PCITEST_MSIX_TABLE,
                                              .pba_bar = FERRY_PCITEST_MSIX_BAR,
                                              .pba_offset = FERRY_PCITEST_MSIX_PBA}));
  FERRY_TRY(add_pcie_capability(config()));
  return {};
}

void PciTestDevice::bar_read(unsigned index, uint64_t offset, std::span<uint8_t> data) noexcept {
  const auto size = static_cast<unsigned>(data.size());
  store(data,
        index == FERRY_PCITEST_MSIX_BAR ? read_msix(offset, size) : read_register(offset, size));
}

void PciTestDevice::bar_write(unsigned index, uint64_t offset,
                              std::span<const uint8_t> data) noexcept {
  const auto size = static_cast<unsigned>(data.size());
  if (index == FERRY_PCITEST_MSIX_BAR) {
    write_msix(offset, size, load(data));
  } else {
    write_register(offset, size, static_cast<uint32_t>(load(data)));
  }
}

void PciTestDevice::config_written(uint16_t offset, unsigned size) {
  const uint16_t control = msix_capability_ + kMsixControl;
  if (offset < control + 2 && offset + size > control) {
    const uint32_t value = config().get(control, 2);
    msix_.set_control(value & kMsixEnable, value & kMsixFunctionMask);
  }
}

uint64_t PciTestDevice::read_register(uint64_t offset, unsigned size) {
  if (size != 4 || offset % 4 != 0) return ~uint64_t{0};
  switch (offset) {
    case FERRY_PCITEST_ID:
      return FERRY_PCITEST_MAGIC;
    case FERRY_PCITEST_SENT:
      return msix_.sent();
    case FERRY_PCITEST_DROPPED:
      return dropped_.load();
    case FERRY_PCITEST_SCRATCH:
      return scratch_.load();
    default:
      return ~uint64_t{0};
  }
}

void PciTestDevice::write_register(uint64_t offset, unsigned size, uint32_t value) {
  if (size != 4 || offset % 4 != 0) return;
  switch (offset) {
    case FERRY_PCITEST_DOORBELL:
      ring(value);
      return;
    case FERRY_PCITEST_SCRATCH:
      scratch_.store(value);
      return;
    default:
      return;
  }
}

void PciTestDevice::ring(uint32_t vector) {
  // Without bus mastering the function cannot write the message at all.
  const MsixTable::Raised raised =
      bus_master_enabled() ? msix_.raise(vector) : MsixTable::Raised::kDropped;
  if (raised == MsixTable::Raised::kDropped) ++dropped_;
}

uint64_t PciTestDevice::read_msix(uint64_t offset, unsigned size) {
  if (inside(offset, FERRY_PCITEST_MSIX_TABLE, msix_.table_bytes())) {
    return msix_.read_table(offset - FERRY_PCITEST_MSIX_TABLE, size);
  }
  if (inside(offset, FERRY_PCITEST_MSIX_PBA, msix_.pba_bytes())) {
    return msix_.read_pba(offset - FERRY_PCITEST_MSIX_PBA, size);
  }
  return 0;  // the rest of the BAR is reserved
}

void PciTestDevice::write_msix(uint64_t offset, unsigned size, uint64_t value) {
  if (inside(offset, FERRY_PCITEST_MSIX_TABLE, msix_.table_bytes())) {
    msix_.write_table(offset - FERRY_PCITEST_MSIX_TABLE, size, value);
  }
}

}  // namespace ferry::pci

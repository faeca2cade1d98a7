#include "ferry/pci/capabilities.h"

#include <bit>

#include "ferry/pci/config_regs.h"

namespace ferry::pci {
namespace {

constexpr uint16_t kPcieVersion2 = 2;
constexpr uint16_t kPcieTypeIntegratedEndpoint = 0x9;
constexpr uint16_t kPcieTypeRootPort = 0x4;
constexpr uint32_t kPcieDevCapRoleBasedErrors = 1u << 15;
// Error reporting enables, relaxed ordering, max payload, extended tags, no snoop, max read
// request. Phantom functions, aux power and FLR stay read-only zero (not supported).
constexpr uint16_t kPcieDevCtlWritable = 0x79ff;
// The reset value: relaxed ordering and no snoop enabled, 512-byte max read request.
constexpr uint16_t kPcieDevCtlDefault = 0x2810;
constexpr uint16_t kPcieDevStaErrors = 0x000f;

// A root port's link as the guest sees it: 16 GT/s x16, trained and active from the start (the
// card is in the slot), with Data Link Layer Link Active reporting so software that waits for the
// link after a Secondary Bus Reset finds it up at once.
constexpr uint32_t kLinkSpeed16GT = 4;
constexpr uint32_t kLinkWidthX16 = 16;
constexpr uint32_t kLinkCapActiveReporting = 1u << 20;
constexpr uint16_t kLinkStaSlotClock = 1u << 12;
constexpr uint16_t kLinkStaActive = 1u << 13;
constexpr uint32_t kLinkCap2Speeds = 0x1e;  // 2.5, 5, 8 and 16 GT/s supported
// ASPM control, read completion boundary, common clock, extended synch; the rest is read-only.
constexpr uint16_t kLinkCtlWritable = 0x00cb;
// System error on correctable / non-fatal / fatal errors, PME interrupt, CRS visibility.
constexpr uint16_t kRootCtlWritable = 0x001f;
constexpr uint32_t kRootStaPme = 1u << 16;
constexpr uint16_t kLinkCtl2TargetSpeed = 0x000f;

uint16_t add_device_registers(ConfigSpace& config, uint16_t at, uint16_t type) {
  config.set(at + kPcieFlags, 2, kPcieVersion2 | type << 4);
  config.set(at + kPcieDeviceCapabilities, 4, kPcieDevCapRoleBasedErrors);
  config.set(at + kPcieDeviceControl, 2, kPcieDevCtlDefault);
  config.set_writable(at + kPcieDeviceControl, 2, kPcieDevCtlWritable);
  config.set_write_one_to_clear(at + kPcieDeviceStatus, 2, kPcieDevStaErrors);
  return at;
}

}  // namespace

Expected<uint16_t> add_msi_capability(ConfigSpace& config, const MsiOptions& options) {
  if (options.vectors == 0 || options.vectors > 32 || !std::has_single_bit(options.vectors)) {
    return fail(Errc::kInvalidArgument, "MSI: {} vectors; use a power of two from 1 to 32",
                options.vectors);
  }
  const unsigned data_at = options.address64 ? 0x0c : 0x08;
  const unsigned length = options.per_vector_mask ? data_at + 12 : data_at + 4;
  FERRY_ASSIGN(uint16_t at, config.add_capability(kCapMsi, length));
  const auto log2_vectors = static_cast<uint16_t>(std::countr_zero(options.vectors));
  uint16_t control = static_cast<uint16_t>(log2_vectors << 1);
  if (options.address64) control |= kMsi64Bit;
  if (options.per_vector_mask) control |= kMsiPerVectorMask;
  config.set(at + kMsiControl, 2, control);
  config.set_writable(at + kMsiControl, 2, kMsiEnable | kMsiMultipleEnableMask);
  config.set_writable(at + kMsiAddress, 4, 0xfffffffc);
  if (options.address64) config.set_writable(at + kMsiAddress + 4, 4, 0xffffffff);
  config.set_writable(at + data_at, 2, 0xffff);
  if (options.per_vector_mask) {
    const uint32_t vector_bits =
        options.vectors == 32 ? 0xffffffff : (uint32_t{1} << options.vectors) - 1;
    config.set_writable(at + data_at + 4, 4, vector_bits);  // mask bits; pending bits follow
  }
  return at;
}

Expected<uint16_t> add_msix_capability(ConfigSpace& config, const MsixLayout& layout) {
  if (layout.vectors == 0 || layout.vectors > kMsixMaxVectors) {
    return fail(Errc::kInvalidArgument, "MSI-X: {} vectors; use 1 to {}", layout.vectors,
                kMsixMaxVectors);
  }
  if (layout.table_bar >= kBarCount || layout.pba_bar >= kBarCount ||
      (layout.table_offset & 7) != 0 || (layout.pba_offset & 7) != 0) {
    return fail(Errc::kInvalidArgument,
                "MSI-X: table at BAR {} + {:#x}, PBA at BAR {} + {:#x}; BARs are 0-5 and "
                "offsets 8-byte aligned",
                layout.table_bar, layout.table_offset, layout.pba_bar, layout.pba_offset);
  }
  FERRY_ASSIGN(uint16_t at, config.add_capability(kCapMsix, kMsixCapabilitySize));
  config.set(at + kMsixControl, 2, layout.vectors - 1);  // enable and function mask start clear
  config.set_writable(at + kMsixControl, 2, kMsixEnable | kMsixFunctionMask);
  config.set(at + kMsixTable, 4, layout.table_offset | layout.table_bar);
  config.set(at + kMsixPba, 4, layout.pba_offset | layout.pba_bar);
  return at;
}

Expected<uint16_t> add_pcie_capability(ConfigSpace& config) {
  FERRY_ASSIGN(uint16_t at, config.add_capability(kCapPcie, kPcieCapabilitySize));
  return add_device_registers(config, at, kPcieTypeIntegratedEndpoint);
}

Expected<uint16_t> add_root_port_pcie_capability(ConfigSpace& config, uint8_t port_number) {
  FERRY_ASSIGN(uint16_t at, config.add_capability(kCapPcie, kPcieCapabilitySize));
  add_device_registers(config, at, kPcieTypeRootPort);
  config.set(
      at + kPcieLinkCapabilities, 4,
      kLinkSpeed16GT | kLinkWidthX16 << 4 | kLinkCapActiveReporting | uint32_t{port_number} << 24);
  config.set_writable(at + kPcieLinkControl, 2, kLinkCtlWritable);
  config.set(at + kPcieLinkStatus, 2,
             kLinkSpeed16GT | kLinkWidthX16 << 4 | kLinkStaSlotClock | kLinkStaActive);
  config.set_writable(at + kPcieRootControl, 2, kRootCtlWritable);
  config.set_write_one_to_clear(at + kPcieRootStatus, 4, kRootStaPme);
  config.set(at + kPcieLinkCapabilities2, 4, kLinkCap2Speeds);
  config.set(at + kPcieLinkControl2, 2, kLinkSpeed16GT);
  config.set_writable(at + kPcieLinkControl2, 2, kLinkCtl2TargetSpeed);
  return at;
}

}  // namespace ferry::pci

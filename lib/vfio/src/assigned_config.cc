#include "ferry/vfio/assigned_config.h"

#include <fmt/format.h>

#include "ferry/pci/config_regs.h"

namespace ferry::vfio {
namespace {

constexpr uint8_t kCapPowerManagement = 0x01;
constexpr uint8_t kCapVendorSpecific = 0x09;

// Capabilities whose registers the device can keep to itself: ferry passes them through.
bool passed_through(uint8_t id) {
  return id == kCapPowerManagement || id == pci::kCapPcie || id == kCapVendorSpecific;
}

}  // namespace

uint32_t config_value(std::span<const uint8_t, 256> raw, unsigned offset, unsigned size) {
  uint32_t value = 0;
  for (unsigned i = 0; i < size && offset + i < 256; ++i) {
    value |= uint32_t{raw[offset + i]} << (8 * i);
  }
  return value;
}

std::string capability_name(uint8_t id) {
  switch (id) {
    case kCapPowerManagement:
      return "power management";
    case pci::kCapMsi:
      return "MSI";
    case pci::kCapMsix:
      return "MSI-X";
    case pci::kCapPcie:
      return "PCI Express";
    case kCapVendorSpecific:
      return "vendor-specific";
    default:
      return fmt::format("capability {:#04x}", id);
  }
}

ConfigPlan plan_config(std::span<const uint8_t, 256> raw) {
  ConfigPlan plan;
  for (unsigned i = pci::kHeaderEnd; i < 256; ++i) plan.forwarded.set(i);
  std::bitset<256> visited;
  const bool has_list = config_value(raw, pci::kStatus, 2) & pci::kStatusCapabilityList;
  uint8_t at = has_list ? raw[pci::kCapabilityPointer] & 0xfc : 0;
  std::vector<KeptCapability> kept;
  while (at >= pci::kHeaderEnd && !visited.test(at)) {
    visited.set(at);
    const uint8_t id = raw[at];
    const uint8_t next = raw[at + 1] & 0xfc;
    // The chain is ferry's: the header bytes of every capability are emulated.
    plan.forwarded.reset(at);
    plan.forwarded.reset(at + 1);
    if (id == pci::kCapMsix && !plan.msix) {
      const uint32_t control = config_value(raw, at + pci::kMsixControl, 2);
      const uint32_t table = config_value(raw, at + pci::kMsixTable, 4);
      const uint32_t pba = config_value(raw, at + pci::kMsixPba, 4);
      plan.msix = MsixLayout{.cap = at,
                             .vectors = (control & pci::kMsixTableSizeMask) + 1,
                             .table_bar = table & 7,
                             .table_offset = table & ~7u,
                             .pba_bar = pba & 7,
                             .pba_offset = pba & ~7u};
      for (unsigned i = 0; i < pci::kMsixCapabilitySize && at + i < 256; ++i) {
        plan.forwarded.reset(at + i);
      }
      kept.push_back({id, at, 0});
    } else if (id == pci::kCapMsi && !plan.msi) {
      const uint32_t control = config_value(raw, at + pci::kMsiControl, 2);
      plan.msi = MsiLayout{.cap = at,
                           .is_64bit = (control & pci::kMsi64Bit) != 0,
                           .per_vector_mask = (control & pci::kMsiPerVectorMask) != 0};
      for (unsigned i = 0; i < plan.msi->length() && at + i < 256; ++i)
        plan.forwarded.reset(at + i);
      kept.push_back({id, at, 0});
    } else if (passed_through(id)) {
      kept.push_back({id, at, 0});
    } else {
      plan.hidden.push_back(capability_name(id));
    }
    at = next;
  }
  for (size_t i = 0; i + 1 < kept.size(); ++i)
    kept[i].next = static_cast<uint8_t>(kept[i + 1].offset);
  plan.kept = std::move(kept);
  return plan;
}

}  // namespace ferry::vfio

#include "ferry/pci/host/capabilities.h"

#include <fmt/format.h>

#include <array>
#include <utility>

#include "ferry/base/units.h"

namespace ferry::pci::host {
namespace {

std::optional<PowerManagement> parse_pm(const ConfigSpace& c, size_t at) {
  auto pmc = c.read16(at + 2);
  auto pmcsr = c.read16(at + 4);
  if (!pmc || !pmcsr) return std::nullopt;
  return PowerManagement{.version = static_cast<uint8_t>(*pmc & 0x7),
                         .d1 = (*pmc & (1u << 9)) != 0,
                         .d2 = (*pmc & (1u << 10)) != 0,
                         .no_soft_reset = (*pmcsr & (1u << 3)) != 0,
                         .power_state = static_cast<uint8_t>(*pmcsr & 0x3)};
}

std::optional<Msi> parse_msi(const ConfigSpace& c, size_t at) {
  auto control = c.read16(at + 2);
  if (!control) return std::nullopt;
  return Msi{.vectors = 1u << ((*control >> 1) & 0x7),
             .address64 = (*control & (1u << 7)) != 0,
             .per_vector_mask = (*control & (1u << 8)) != 0,
             .enabled = (*control & 1u) != 0};
}

std::optional<MsixLayout> parse_msix(const ConfigSpace& c, size_t at) {
  auto control = c.read16(at + 2);
  auto table = c.read32(at + 4);
  auto pba = c.read32(at + 8);
  if (!control || !table || !pba) return std::nullopt;
  return MsixLayout{.table_size = (*control & 0x7ffu) + 1,
                    .table_bar = static_cast<uint8_t>(*table & 0x7),
                    .table_offset = *table & ~0x7u,
                    .pba_bar = static_cast<uint8_t>(*pba & 0x7),
                    .pba_offset = *pba & ~0x7u,
                    .enabled = (*control & (1u << 15)) != 0};
}

bool has_link(uint8_t type) {
  return type != static_cast<uint8_t>(ExpressType::kRootComplexEndpoint) &&
         type != static_cast<uint8_t>(ExpressType::kRootComplexEventCollector);
}

std::optional<Express> parse_express(const ConfigSpace& c, size_t at) {
  auto flags = c.read16(at + 2);
  auto device_caps = c.read32(at + 4);
  if (!flags || !device_caps) return std::nullopt;
  Express e{.version = static_cast<uint8_t>(*flags & 0xf),
            .type = static_cast<uint8_t>((*flags >> 4) & 0xf),
            .flr = (*device_caps & (1u << 28)) != 0,
            .max_payload = 128u << (*device_caps & 0x7),
            .link = std::nullopt};
  if (has_link(e.type)) {
    auto link_caps = c.read32(at + 0x0c);
    auto link_status = c.read16(at + 0x12);
    if (link_caps && link_status) {
      e.link = ExpressLink{.max_speed = static_cast<uint8_t>(*link_caps & 0xf),
                           .max_width = static_cast<uint8_t>((*link_caps >> 4) & 0x3f),
                           .speed = static_cast<uint8_t>(*link_status & 0xf),
                           .width = static_cast<uint8_t>((*link_status >> 4) & 0x3f)};
    }
  }
  return e;
}

std::optional<Aer> parse_aer(const ConfigSpace& c, const CapabilityHeader& h) {
  auto control = c.read32(h.offset + 0x18u);
  if (!control) return std::nullopt;
  return Aer{.version = h.version,
             .ecrc_generation = (*control & (1u << 5)) != 0,
             .ecrc_check = (*control & (1u << 7)) != 0};
}

std::optional<Acs> parse_acs(const ConfigSpace& c, size_t at) {
  auto caps = c.read16(at + 4);
  auto control = c.read16(at + 6);
  if (!caps || !control) return std::nullopt;
  return Acs{.capabilities = *caps, .control = *control};
}

std::optional<Sriov> parse_sriov(const ConfigSpace& c, size_t at) {
  auto control = c.read16(at + 0x08);
  auto initial = c.read16(at + 0x0c);
  auto total = c.read16(at + 0x0e);
  auto num = c.read16(at + 0x10);
  auto offset = c.read16(at + 0x14);
  auto stride = c.read16(at + 0x16);
  auto device = c.read16(at + 0x1a);
  if (!control || !initial || !total || !num || !offset || !stride || !device) return std::nullopt;
  return Sriov{.initial_vfs = *initial,
               .total_vfs = *total,
               .num_vfs = *num,
               .first_vf_offset = *offset,
               .vf_stride = *stride,
               .vf_device_id = *device,
               .vf_enabled = (*control & 1u) != 0};
}

// Entry sizes: bit n of the capability register's bits 4-31 means 1 MiB << n; bit n of the
// control register's bits 16-31 means 1 MiB << (n + 28). The current size is 1 MiB << (13:8).
std::vector<ResizableBarEntry> parse_resizable_bars(const ConfigSpace& c, size_t at) {
  std::vector<ResizableBarEntry> entries;
  auto first_control = c.read32(at + 8);
  if (!first_control) return entries;
  const unsigned count = (*first_control >> 5) & 0x7;
  if (count < 1 || count > 6) return entries;  // out of specification: decode nothing
  for (unsigned i = 0; i < count; ++i) {
    auto caps = c.read32(at + 4 + 8 * i);
    auto control = c.read32(at + 8 + 8 * i);
    if (!caps || !control) break;
    ResizableBarEntry entry{.bar = static_cast<uint8_t>(*control & 0x7),
                            .current_size = kMiB << ((*control >> 8) & 0x3f),
                            .supported_sizes = {}};
    for (unsigned bit = 0; bit < 28; ++bit) {
      if (*caps & (1u << (bit + 4))) entry.supported_sizes.push_back(kMiB << bit);
    }
    for (unsigned bit = 0; bit < 16; ++bit) {
      if (*control & (1u << (bit + 16))) entry.supported_sizes.push_back(kMiB << (bit + 28));
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace

Capabilities parse_capabilities(const ConfigSpace& config) {
  Capabilities caps;
  caps.list = config.capabilities();
  for (const CapabilityHeader& h : caps.list) {
    const size_t at = h.offset;
    if (!h.extended) {
      switch (h.id) {
        case kCapPowerManagement:
          if (!caps.pm) caps.pm = parse_pm(config, at);
          break;
        case kCapMsi:
          if (!caps.msi) caps.msi = parse_msi(config, at);
          break;
        case kCapExpress:
          if (!caps.express) caps.express = parse_express(config, at);
          break;
        case kCapMsix:
          if (!caps.msix) caps.msix = parse_msix(config, at);
          break;
        default:
          break;
      }
      continue;
    }
    switch (h.id) {
      case kExtCapAer:
        if (!caps.aer) caps.aer = parse_aer(config, h);
        break;
      case kExtCapAcs:
        if (!caps.acs) caps.acs = parse_acs(config, at);
        break;
      case kExtCapSriov:
        if (!caps.sriov) caps.sriov = parse_sriov(config, at);
        break;
      case kExtCapResizableBar:
        if (caps.resizable_bars.empty()) caps.resizable_bars = parse_resizable_bars(config, at);
        break;
      default:
        break;
    }
  }
  return caps;
}

std::string capability_name(const CapabilityHeader& header) {
  static constexpr std::array<std::pair<uint16_t, const char*>, 14> kStandard{{
      {0x01, "Power Management"},
      {0x02, "AGP"},
      {0x03, "Vital Product Data"},
      {0x04, "Slot Identification"},
      {0x05, "MSI"},
      {0x07, "PCI-X"},
      {0x08, "HyperTransport"},
      {0x09, "Vendor Specific"},
      {0x0a, "Debug Port"},
      {0x0c, "PCI Hot-Plug"},
      {0x0d, "Bridge Subsystem ID"},
      {0x10, "Express"},
      {0x11, "MSI-X"},
      {0x12, "SATA"},
  }};
  static constexpr std::array<std::pair<uint16_t, const char*>, 28> kExtended{{
      {0x01, "Advanced Error Reporting"},
      {0x02, "Virtual Channel"},
      {0x03, "Device Serial Number"},
      {0x04, "Power Budgeting"},
      {0x05, "Root Complex Link Declaration"},
      {0x07, "Root Complex Event Collector Association"},
      {0x08, "Multi-Function Virtual Channel"},
      {0x09, "Virtual Channel"},
      {0x0b, "Vendor Specific"},
      {0x0d, "Access Control Services"},
      {0x0e, "Alternative Routing-ID Interpretation"},
      {0x0f, "Address Translation Service"},
      {0x10, "Single Root I/O Virtualization"},
      {0x12, "Multicast"},
      {0x13, "Page Request Interface"},
      {0x15, "Resizable BAR"},
      {0x17, "TLP Processing Hints"},
      {0x18, "Latency Tolerance Reporting"},
      {0x19, "Secondary PCI Express"},
      {0x1b, "Process Address Space ID"},
      {0x1d, "Downstream Port Containment"},
      {0x1e, "L1 PM Substates"},
      {0x1f, "Precision Time Measurement"},
      {0x23, "Designated Vendor-Specific"},
      {0x24, "VF Resizable BAR"},
      {0x25, "Data Link Feature"},
      {0x26, "Physical Layer 16.0 GT/s"},
      {0x2e, "Data Object Exchange"},
  }};
  if (header.extended) {
    for (const auto& [id, name] : kExtended) {
      if (id == header.id) return name;
    }
    return fmt::format("extended capability {:#06x}", header.id);
  }
  for (const auto& [id, name] : kStandard) {
    if (id == header.id) return name;
  }
  return fmt::format("capability {:#04x}", header.id);
}

std::string express_type_name(uint8_t type) {
  switch (static_cast<ExpressType>(type)) {
    case ExpressType::kEndpoint:
      return "Endpoint";
    case ExpressType::kLegacyEndpoint:
      return "Legacy Endpoint";
    case ExpressType::kRootPort:
      return "Root Port";
    case ExpressType::kUpstreamPort:
      return "Upstream Port";
    case ExpressType::kDownstreamPort:
      return "Downstream Port";
    case ExpressType::kPcieToPciBridge:
      return "PCIe to PCI Bridge";
    case ExpressType::kPciToPcieBridge:
      return "PCI to PCIe Bridge";
    case ExpressType::kRootComplexEndpoint:
      return "Root Complex Integrated Endpoint";
    case ExpressType::kRootComplexEventCollector:
      return "Root Complex Event Collector";
  }
  return fmt::format("type {:#x}", type);
}

std::string link_speed_name(uint8_t encoded) {
  static constexpr std::array<const char*, 7> kSpeeds{"unknown", "2.5 GT/s", "5 GT/s", "8 GT/s",
                                                      "16 GT/s", "32 GT/s",  "64 GT/s"};
  return encoded < kSpeeds.size() ? kSpeeds[encoded] : "unknown";
}

std::string acs_flags_text(uint16_t bits) {
  static constexpr std::array<const char*, 7> kNames{
      "SrcValid", "TransBlk", "ReqRedir", "CmpltRedir", "UpstreamFwd", "EgressCtrl", "DirectTrans"};
  std::string text;
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (bits & (1u << i)) {
      if (!text.empty()) text += ' ';
      text += kNames[i];
    }
  }
  return text.empty() ? "none" : text;
}

}  // namespace ferry::pci::host

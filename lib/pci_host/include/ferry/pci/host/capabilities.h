// What a device's capabilities say, decoded from its config space: the ones that decide whether
// and how it can be assigned (interrupts, PCIe type and link, error reporting, isolation,
// virtual functions, BAR resizing), plus the full list by name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ferry/pci/host/config_space.h"

namespace ferry::pci::host {

// Standard capability IDs (PCI Local Bus / PCIe Base specifications).
constexpr uint16_t kCapPowerManagement = 0x01;
constexpr uint16_t kCapMsi = 0x05;
constexpr uint16_t kCapExpress = 0x10;
constexpr uint16_t kCapMsix = 0x11;
// Extended capability IDs.
constexpr uint16_t kExtCapAer = 0x0001;
constexpr uint16_t kExtCapAcs = 0x000d;
constexpr uint16_t kExtCapSriov = 0x0010;
constexpr uint16_t kExtCapResizableBar = 0x0015;

struct PowerManagement {
  uint8_t version = 0;
  bool d1 = false;
  bool d2 = false;
  bool no_soft_reset = false;  // D3hot -> D0 keeps state: a PM reset does not reset the device
  uint8_t power_state = 0;     // 0-3 = D0-D3hot
};

struct Msi {
  unsigned vectors = 1;  // what the device can request (Multiple Message Capable)
  bool address64 = false;
  bool per_vector_mask = false;
  bool enabled = false;
};

struct MsixLayout {
  unsigned table_size = 0;  // vectors
  uint8_t table_bar = 0;
  uint32_t table_offset = 0;
  uint8_t pba_bar = 0;
  uint32_t pba_offset = 0;
  bool enabled = false;

  uint64_t table_bytes() const { return uint64_t{table_size} * 16; }
  uint64_t pba_bytes() const { return (uint64_t{table_size} + 63) / 64 * 8; }
};

enum class ExpressType : uint8_t {
  kEndpoint = 0x0,
  kLegacyEndpoint = 0x1,
  kRootPort = 0x4,
  kUpstreamPort = 0x5,
  kDownstreamPort = 0x6,
  kPcieToPciBridge = 0x7,
  kPciToPcieBridge = 0x8,
  kRootComplexEndpoint = 0x9,
  kRootComplexEventCollector = 0xa,
};

struct ExpressLink {
  uint8_t max_speed = 0;  // encoded: 1 = 2.5 GT/s, 2 = 5, 3 = 8, 4 = 16, 5 = 32, 6 = 64
  uint8_t max_width = 0;
  uint8_t speed = 0;
  uint8_t width = 0;
};

struct Express {
  uint8_t version = 0;
  uint8_t type = 0;                 // ExpressType when known
  bool flr = false;                 // Function Level Reset in Device Capabilities
  unsigned max_payload = 0;         // bytes
  std::optional<ExpressLink> link;  // absent on root-complex integrated devices
};

struct Aer {
  uint8_t version = 0;
  bool ecrc_generation = false;
  bool ecrc_check = false;
};

struct Acs {
  uint16_t capabilities = 0;  // the ACS Capability register: bit 0 V, 1 B, 2 R, 3 C, 4 U, 5 E, 6 T
  uint16_t control = 0;       // which of them are enabled
};

struct Sriov {
  uint16_t initial_vfs = 0;
  uint16_t total_vfs = 0;
  uint16_t num_vfs = 0;
  uint16_t first_vf_offset = 0;
  uint16_t vf_stride = 0;
  uint16_t vf_device_id = 0;
  bool vf_enabled = false;
};

struct ResizableBarEntry {
  uint8_t bar = 0;
  uint64_t current_size = 0;
  std::vector<uint64_t> supported_sizes;  // ascending
};

struct Capabilities {
  std::vector<CapabilityHeader> list;  // every capability, in chain order
  std::optional<PowerManagement> pm;
  std::optional<Msi> msi;
  std::optional<MsixLayout> msix;
  std::optional<Express> express;
  std::optional<Aer> aer;
  std::optional<Acs> acs;
  std::optional<Sriov> sriov;
  std::vector<ResizableBarEntry> resizable_bars;
};

/// Decodes the capabilities found in `config`. A capability cut off by a short read (a 256-byte
/// config file for a PCIe device) is left out, never guessed.
Capabilities parse_capabilities(const ConfigSpace& config);

/// "MSI-X", "Express", "Advanced Error Reporting"...; "capability 0x42" when unknown.
std::string capability_name(const CapabilityHeader& header);

/// "Endpoint", "Root Port"...
std::string express_type_name(uint8_t type);

/// "8 GT/s" from the encoded link speed; "unknown" when out of range.
std::string link_speed_name(uint8_t encoded);

/// ACS capability bits as letters people know from lspci: "SrcValid TransBlk ReqRedir ...".
std::string acs_flags_text(uint16_t bits);

}  // namespace ferry::pci::host

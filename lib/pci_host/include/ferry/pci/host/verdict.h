// Can this host device be handed to a guest, and if not, what fixes it. A verdict is a list of
// checks (docs/pci.md): the IOMMU, the header type, the driver, the IOMMU group, reset, BAR
// placement and MSI-X layout. Any failed check makes the device not assignable; a warning
// leaves it assignable with a caveat. Every failed check carries the fix: the exact commands
// where there are some, otherwise what to do.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "ferry/pci/host/bar_plan.h"
#include "ferry/pci/host/guest_windows.h"
#include "ferry/pci/host/host_device.h"
#include "ferry/pci/host/inventory.h"

namespace ferry::pci::host {

enum class CheckStatus { kPass, kWarn, kFail, kSkipped };

/// "pass", "warn", "fail", "skipped".
const char* check_status_name(CheckStatus status);

struct Fix {
  std::string summary;                // what to do, in one or two sentences
  std::vector<std::string> commands;  // shell commands to run as root, in order (may be empty)
};

struct Check {
  std::string id;  // "iommu", "header", "driver", "group", "reset", "bars", "msix"
  CheckStatus status = CheckStatus::kPass;
  std::string detail;      // what was found
  std::optional<Fix> fix;  // for warnings and failures
};

struct Verdict {
  std::vector<Check> checks;
  BarPlan bars;

  bool assignable() const;
  size_t warnings() const;
  /// "assignable", "assignable, 1 warning", "not assignable".
  std::string summary() const;
  /// The check with this id, or nullptr.
  const Check* find(std::string_view id) const;
};

/// Judges `device` against the rest of the inventory and the guest's windows.
Verdict assess(const HostDevice& device, const Inventory& inventory, const GuestWindows& windows);

/// The commands that move `device` (currently bound to `driver`, if any) to vfio-pci,
/// starting with loading vfio-pci when `load_vfio` is set.
std::vector<std::string> bind_to_vfio_commands(const Bdf& device,
                                               const std::optional<std::string>& driver,
                                               bool load_vfio);

}  // namespace ferry::pci::host

#include "ferry/pci/host/verdict.h"

#include <fmt/format.h>

#include <algorithm>

#include "checks.h"
#include "ferry/pci/host/gpu.h"

namespace ferry::pci::host {

const char* check_status_name(CheckStatus status) {
  switch (status) {
    case CheckStatus::kPass:
      return "pass";
    case CheckStatus::kWarn:
      return "warn";
    case CheckStatus::kFail:
      return "fail";
    case CheckStatus::kSkipped:
      return "skipped";
  }
  return "unknown";
}

bool Verdict::assignable() const {
  return std::none_of(checks.begin(), checks.end(),
                      [](const Check& c) { return c.status == CheckStatus::kFail; });
}

size_t Verdict::warnings() const {
  return static_cast<size_t>(std::count_if(
      checks.begin(), checks.end(), [](const Check& c) { return c.status == CheckStatus::kWarn; }));
}

std::string Verdict::summary() const {
  if (!assignable()) return "not assignable";
  const size_t n = warnings();
  if (n == 0) return "assignable";
  return fmt::format("assignable, {} warning{}", n, n == 1 ? "" : "s");
}

const Check* Verdict::find(std::string_view id) const {
  auto it = std::find_if(checks.begin(), checks.end(), [&](const Check& c) { return c.id == id; });
  return it == checks.end() ? nullptr : &*it;
}

Verdict assess(const HostDevice& device, const Inventory& inventory, const GuestWindows& windows) {
  Verdict verdict;
  const IommuLimits limits = iommu_limits(device, inventory);
  verdict.bars = plan_bars(device, windows, limits);
  verdict.checks = {
      check_iommu(device, inventory),
      check_header(device),
      check_driver(device, inventory),
      check_group(device, inventory),
      check_vfio_iommu(inventory),
      check_reset(device),
      check_bars(device, verdict.bars, limits, windows),
      check_msix(device),
  };
  if (is_gpu(device)) verdict.checks.push_back(check_gpu(device, inventory, verdict.bars));
  return verdict;
}

std::vector<std::string> bind_to_vfio_commands(const Bdf& device,
                                               const std::optional<std::string>& driver,
                                               bool load_vfio) {
  const std::string bdf = device.str();
  std::vector<std::string> commands;
  if (load_vfio) commands.push_back("modprobe vfio-pci");
  commands.push_back(fmt::format("echo vfio-pci > /sys/bus/pci/devices/{}/driver_override", bdf));
  if (driver)
    commands.push_back(fmt::format("echo {} > /sys/bus/pci/drivers/{}/unbind", bdf, *driver));
  commands.push_back(fmt::format("echo {} > /sys/bus/pci/drivers/vfio-pci/bind", bdf));
  return commands;
}

}  // namespace ferry::pci::host

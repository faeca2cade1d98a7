// ferry devices: the host's PCI devices with IOMMU group, driver and assignability verdict.
#include <iostream>

#include "command_line.h"
#include "commands.h"
#include "ferry/pci/host/report.h"
#include "pci_options.h"

namespace ferry::cli {
namespace {

constexpr const char* kUsage =
    "Usage: ferry devices [options]\n"
    "Lists the host's PCI devices like lspci, with IOMMU group, driver and whether each can be\n"
    "assigned to a guest (ferry check <BDF> tells why not). Reads sysfs; changes nothing.";

}  // namespace

int devices_command(const std::vector<std::string>& args) {
  PciOptions options;
  boost::program_options::options_description visible("Options");
  visible.add_options()("help,h", "show this help");
  add_pci_options(visible, options);
  if (auto done = parse_options("devices", args, visible, {}, {}, kUsage)) return *done;

  auto context = load_pci_context(options);
  if (!context) return report_error("devices", context.error());
  std::vector<pci::host::Verdict> verdicts;
  for (const pci::host::HostDevice& device : context->inventory.devices()) {
    verdicts.push_back(pci::host::assess(device, context->inventory, context->windows));
  }
  std::cout << (options.json ? pci::host::devices_json(context->inventory, verdicts, options.sysfs)
                             : pci::host::format_device_table(context->inventory, verdicts));
  return 0;
}

}  // namespace ferry::cli

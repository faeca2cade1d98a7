// ferry check BDF: the full readiness report for one host device, with the fix for every
// failed check. Exits 0 when the device is assignable, kExitNotAssignable when not.
#include <iostream>

#include "command_line.h"
#include "commands.h"
#include "ferry/pci/host/bdf.h"
#include "ferry/pci/host/report.h"
#include "ferry/pci/host/vfio_path.h"
#include "pci_options.h"

namespace ferry::cli {
namespace {

namespace po = boost::program_options;

constexpr const char* kUsage =
    "Usage: ferry check <BDF> [options]\n"
    "Tells whether the host device at BDF (e.g. 0000:01:00.0) can be assigned to a guest, and\n"
    "for each problem the commands that fix it. Reads sysfs; changes nothing. Exit status: 0\n"
    "assignable, 3 not assignable, 2 bad usage or no such device, 1 the host could not be read.";

}  // namespace

int check_command(const std::vector<std::string>& args) {
  PciOptions options;
  std::string bdf_text;
  std::string backend_text = "auto";
  po::options_description visible("Options");
  visible.add_options()("help,h", "show this help");
  visible.add_options()("vfio-backend", po::value(&backend_text)->value_name("auto|legacy|iommufd"),
                        "the VFIO path to judge, as the spec's vfio.backend (default auto)");
  add_pci_options(visible, options);
  po::options_description hidden;
  hidden.add_options()("bdf", po::value(&bdf_text), "the device's PCI address");
  po::positional_options_description positional;
  positional.add("bdf", 1);
  if (auto done = parse_options("check", args, visible, hidden, positional, kUsage)) return *done;
  if (bdf_text.empty()) {
    std::cerr << "ferry check: give the device's PCI address, e.g. ferry check 0000:01:00.0 "
                 "(ferry devices lists them)\nSee: ferry check --help\n";
    return kExitUsage;
  }
  pci::host::VfioBackendChoice backend = pci::host::VfioBackendChoice::kAuto;
  if (backend_text == "legacy") {
    backend = pci::host::VfioBackendChoice::kLegacy;
  } else if (backend_text == "iommufd") {
    backend = pci::host::VfioBackendChoice::kIommufd;
  } else if (backend_text != "auto") {
    std::cerr << "ferry check: --vfio-backend " << backend_text
              << ": give auto, legacy or iommufd\nSee: ferry check --help\n";
    return kExitUsage;
  }
  auto bdf = pci::host::Bdf::parse(bdf_text);
  if (!bdf) return report_error("check", bdf.error());

  auto context = load_pci_context(options);
  if (!context) return report_error("check", context.error());
  const pci::host::HostDevice* device = context->inventory.find(*bdf);
  if (device == nullptr) {
    return report_error(
        "check", Error(Errc::kNotFound,
                       fmt::format("no PCI device {} in {}/bus/pci/devices; ferry devices lists "
                                   "the devices there",
                                   bdf->str(), options.sysfs)));
  }
  const pci::host::Verdict verdict =
      pci::host::assess(*device, context->inventory, context->windows);
  const pci::host::VfioPath path =
      pci::host::choose_vfio_path(*device, context->inventory, backend);
  if (options.json) {
    std::cout << pci::host::device_json(*device, context->inventory, verdict);
  } else {
    std::cout << pci::host::format_check_report(*device, context->inventory, verdict)
              << fmt::format("\nVFIO path: {}\n", path.error ? *path.error : path.reason);
  }
  return verdict.assignable() && !path.error ? 0 : kExitNotAssignable;
}

}  // namespace ferry::cli

#include "pci_options.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "commands.h"
#include "ferry/base/file.h"
#include "ferry/base/units.h"
#include "ferry/vmm/memory_layout.h"

namespace ferry::cli {

namespace po = boost::program_options;

void add_pci_options(po::options_description& options, PciOptions& values) {
  options.add_options()("json", po::bool_switch(&values.json), "print JSON (docs/pci.md)")(
      "sysfs", po::value(&values.sysfs)->default_value("/sys")->value_name("DIR"),
      "read the PCI devices from this sysfs tree (a captured one, for tests)")(
      "pci-ids", po::value(&values.pci_ids)->value_name("FILE"),
      "name devices from this pci.ids (default: libpci's, /usr/share/misc/pci.ids)")(
      "guest-memory", po::value(&values.guest_memory)->default_value("4G")->value_name("SIZE"),
      "guest RAM the BARs must fit around")(
      "guest-phys-bits",
      po::value(&values.guest_phys_bits)->default_value(WholeNumber{40}, "40")->value_name("N"),
      "guest physical address bits, which bound the 64-bit BAR window");
}

Expected<PciContext> load_pci_context(const PciOptions& options) {
  auto memory = parse_size(options.guest_memory);
  if (!memory || *memory < vmm::kMinRamSize || *memory > vmm::kMaxRamSize) {
    return fail(Errc::kInvalidArgument,
                "--guest-memory {}: give a size from {} to {}, e.g. 4G or 512M",
                options.guest_memory, format_size(vmm::kMinRamSize), format_size(vmm::kMaxRamSize));
  }
  FERRY_ASSIGN(auto windows, pci::host::GuestWindows::for_guest(vmm::ram_top(*memory),
                                                                options.guest_phys_bits.value));
  // An explicit pci.ids that cannot be read is a mistake; libpci would name no device, silently.
  if (!options.pci_ids.empty()) {
    // A FIFO would block libpci's open: say what it is before anything opens it.
    if (auto usable = check_not_special(options.pci_ids); !usable) {
      return fail(usable.error().context("pci.ids"));
    }
    if (::access(options.pci_ids.c_str(), R_OK) != 0) {
      return fail(Errc::kNotFound,
                  "--pci-ids {}: cannot read it ({}); give a readable pci.ids file, or leave "
                  "--pci-ids out to use libpci's",
                  options.pci_ids, std::strerror(errno));
    }
  }
  FERRY_ASSIGN(auto inventory, pci::host::Inventory::scan({options.sysfs, options.pci_ids}));
  return PciContext{std::move(inventory), windows};
}

int report_error(const std::string& command, const Error& error) {
  std::cerr << "ferry " << command << ": " << error.message() << "\n";
  const bool bad_input = error.code() == Errc::kInvalidArgument || error.code() == Errc::kNotFound;
  return bad_input ? kExitUsage : kExitFailure;
}

}  // namespace ferry::cli

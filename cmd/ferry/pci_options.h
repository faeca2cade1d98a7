// Options shared by `ferry devices` and `ferry check`: where to read the host's PCI devices
// and which guest the BARs must fit.
#pragma once

#include <boost/program_options.hpp>
#include <string>

#include "ferry/base/error.h"
#include "ferry/pci/host/guest_windows.h"
#include "ferry/pci/host/inventory.h"
#include "whole_number.h"

namespace ferry::cli {

struct PciOptions {
  std::string sysfs = "/sys";
  std::string pci_ids;
  std::string guest_memory = "4G";
  WholeNumber guest_phys_bits{40};
  bool json = false;
};

/// Adds --json, --sysfs, --pci-ids, --guest-memory and --guest-phys-bits.
void add_pci_options(boost::program_options::options_description& options, PciOptions& values);

struct PciContext {
  pci::host::Inventory inventory;
  pci::host::GuestWindows windows;
};

/// Reads the inventory and works out the guest windows the options describe.
Expected<PciContext> load_pci_context(const PciOptions& options);

/// Prints "ferry <command>: <message>" and returns the exit status for the error: 2 when the
/// input was bad (a value, a path, a BDF), 1 when the host failed.
int report_error(const std::string& command, const Error& error);

}  // namespace ferry::cli

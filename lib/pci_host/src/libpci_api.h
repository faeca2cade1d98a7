// libpci, loaded on first use. Only `ferry devices` and `ferry check` read the host's PCI
// inventory; linking libpci (and its libudev and libz) would map them into every ferry process,
// the VMM included, at a cost in resident memory and start-up time.
#pragma once

extern "C" {
#include <pci/pci.h>
}

#include "ferry/base/error.h"

namespace ferry::pci::host {

struct LibpciApi {
  decltype(&::pci_alloc) alloc;
  decltype(&::pci_init) init;
  decltype(&::pci_cleanup) cleanup;
  decltype(&::pci_scan_bus) scan_bus;
  decltype(&::pci_fill_info) fill_info;
  decltype(&::pci_get_string_property) get_string_property;
  decltype(&::pci_read_block) read_block;
  decltype(&::pci_lookup_name) lookup_name;
  decltype(&::pci_set_name_list_path) set_name_list_path;
  decltype(&::pci_set_param) set_param;
};

/// libpci.so.3's functions, loaded once per process; an error says which package to install.
Expected<const LibpciApi*> libpci();

}  // namespace ferry::pci::host

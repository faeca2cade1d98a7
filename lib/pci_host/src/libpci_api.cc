#include "libpci_api.h"

#include <dlfcn.h>

#include <mutex>

namespace ferry::pci::host {
namespace {

constexpr const char* kLibrary = "libpci.so.3";

template <class Function>
bool bind(void* library, const char* name, Function& out) {
  out = reinterpret_cast<Function>(::dlsym(library, name));
  return out != nullptr;
}

Expected<LibpciApi> load() {
  void* library = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    return fail(Errc::kUnsupported,
                "reading the host's PCI devices needs libpci ({}): {}. Install it with: "
                "apt-get install libpci3",
                kLibrary, ::dlerror());
  }
  LibpciApi api{};
  const bool complete =
      bind(library, "pci_alloc", api.alloc) && bind(library, "pci_init", api.init) &&
      bind(library, "pci_cleanup", api.cleanup) && bind(library, "pci_scan_bus", api.scan_bus) &&
      bind(library, "pci_fill_info", api.fill_info) &&
      bind(library, "pci_get_string_property", api.get_string_property) &&
      bind(library, "pci_read_block", api.read_block) &&
      bind(library, "pci_lookup_name", api.lookup_name) &&
      bind(library, "pci_set_name_list_path", api.set_name_list_path) &&
      bind(library, "pci_set_param", api.set_param);
  if (!complete) {
    return fail(Errc::kUnsupported,
                "{} lacks a function ferry needs ({}); libpci 3.8 or newer "
                "is required",
                kLibrary, ::dlerror());
  }
  return api;  // the library stays loaded for the rest of the process
}

}  // namespace

Expected<const LibpciApi*> libpci() {
  static std::once_flag once;
  static Expected<LibpciApi> api = fail(Errc::kInternal, "libpci not loaded");
  std::call_once(once, [] { api = load(); });
  if (!api) return fail(api.error());
  return &*api;
}

}  // namespace ferry::pci::host

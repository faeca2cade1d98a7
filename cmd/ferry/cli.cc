#include <iostream>

#include "commands.h"
#include "ferry/version.h"

namespace ferry::cli {
namespace {

constexpr const char* kHelp =
    "ferry: a VMM for PCI passthrough guests\n"
    "\n"
    "Usage: ferry <command> [options]\n"
    "\n"
    "Commands:\n"
    "  run <vm.yaml>       run the VM the spec describes (ferry run --help)\n"
    "  validate <vm.yaml>  check a spec without running it\n"
    "  devices             list the host's PCI devices and whether each can be assigned\n"
    "  check <BDF>         tell whether one host device can be assigned, and how to fix it\n"
    "  version             print the version\n"
    "\n"
    "The spec format is in docs/config.md; examples/hello.yaml is a start. Device assignment\n"
    "readiness (devices, check) is in docs/pci.md.\n";

}  // namespace

int version_command(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::cerr << "ferry version: takes no arguments\n";
    return kExitUsage;
  }
  std::cout << "ferry " << FERRY_VERSION << " (" << FERRY_GIT_COMMIT << ")\n";
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kHelp;
    return kExitUsage;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "run") return run_command(args);
  if (command == "validate") return validate_command(args);
  if (command == "devices") return devices_command(args);
  if (command == "check") return check_command(args);
  if (command == "version" || command == "--version") return version_command(args);
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kHelp;
    return 0;
  }
  std::cerr << "ferry: unknown command '" << command << "'\n\n" << kHelp;
  return kExitUsage;
}

}  // namespace ferry::cli

// The `ferry` subcommands. Each takes the arguments after its name and returns the process exit
// status: 0 success, 1 failure at run time, 2 bad usage or bad input (docs/cli.md); `ferry check`
// adds 3, the device is not assignable (docs/pci.md).
#pragma once

#include <string>
#include <vector>

namespace ferry::cli {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotAssignable = 3;

int run_command(const std::vector<std::string>& args);
int validate_command(const std::vector<std::string>& args);
int version_command(const std::vector<std::string>& args);
int devices_command(const std::vector<std::string>& args);
int check_command(const std::vector<std::string>& args);

/// The whole CLI: dispatches argv[1] to a subcommand.
int main(int argc, char** argv);

}  // namespace ferry::cli

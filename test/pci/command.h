// Runs a program and collects what it printed, for tests that drive `ferry` and scripts/lab.
#pragma once

#include <string>
#include <vector>

namespace ferry::test {

struct CommandResult {
  int status = -1;  // the exit status; 128 + N when killed by signal N
  std::string out;
  std::string err;
};

/// Runs argv[0] (a path) with the arguments and waits for it.
CommandResult run_command(const std::vector<std::string>& argv);

/// Runs the ferry binary under test with `args`.
CommandResult run_ferry(const std::vector<std::string>& args);

}  // namespace ferry::test

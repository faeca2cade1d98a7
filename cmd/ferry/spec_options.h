// Options shared by the commands that read a VM spec (run, validate), and logging set-up.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ferry/vmm/vm_config.h"

namespace ferry::cli {

struct SpecOptions {
  std::string spec;
  std::vector<std::string> sets;
  std::string log_level = "info";
};

/// Adds the spec path (positional), --set and --log-level to `options`.
void add_spec_options(boost::program_options::options_description& options,
                      boost::program_options::options_description& hidden, SpecOptions& values);

/// Parses argv for `command`; prints usage and returns the exit status when there is nothing
/// to run (help, or an error), else nullopt.
std::optional<int> parse_command_line(const std::string& command,
                                      const std::vector<std::string>& args,
                                      const boost::program_options::options_description& visible,
                                      const boost::program_options::options_description& hidden,
                                      const SpecOptions& values, const char* usage);

/// Sets up spdlog on stderr at `level`; false (with a message) for an unknown level.
bool init_logging(const std::string& level);

/// Loads the spec with its overrides; logs the error and returns nullopt on failure.
std::optional<vmm::VmConfig> load_spec(const SpecOptions& options);

}  // namespace ferry::cli

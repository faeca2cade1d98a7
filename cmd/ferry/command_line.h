// Option parsing shared by every subcommand: boost::program_options errors and --help become an
// exit status, so commands only see parsed values.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ferry::cli {

/// Parses `args` for `command` into the variables `visible` and `hidden` point at. Prints the
/// usage and returns the exit status when there is nothing to run (--help: 0, an error: 2),
/// else nullopt.
std::optional<int> parse_options(
    const std::string& command, const std::vector<std::string>& args,
    const boost::program_options::options_description& visible,
    const boost::program_options::options_description& hidden,
    const boost::program_options::positional_options_description& positional, const char* usage);

}  // namespace ferry::cli

#include "command_line.h"

#include <iostream>

#include "commands.h"

namespace ferry::cli {

namespace po = boost::program_options;

std::optional<int> parse_options(const std::string& command, const std::vector<std::string>& args,
                                 const po::options_description& visible,
                                 const po::options_description& hidden,
                                 const po::positional_options_description& positional,
                                 const char* usage) {
  po::options_description all;
  all.add(visible).add(hidden);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "ferry " << command << ": " << e.what() << "\nSee: ferry " << command
              << " --help\n";
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << usage << "\n" << visible << "\n";
    return 0;
  }
  return std::nullopt;
}

}  // namespace ferry::cli

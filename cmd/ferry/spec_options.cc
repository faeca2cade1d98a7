#include "spec_options.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "command_line.h"
#include "commands.h"
#include "ferry/vmm/config_loader.h"

namespace ferry::cli {

namespace po = boost::program_options;

void add_spec_options(po::options_description& options, po::options_description& hidden,
                      SpecOptions& values) {
  options.add_options()(
      "set", po::value(&values.sets)->composing()->value_name("KEY=VALUE"),
      "override a spec value, e.g. --set vcpus=2 --set memory.size=128M (repeatable)")(
      "log-level", po::value(&values.log_level)->default_value("info")->value_name("LEVEL"),
      "trace, debug, info, warn, error or off");
  hidden.add_options()("spec", po::value(&values.spec), "the VM spec (YAML)");
}

std::optional<int> parse_command_line(const std::string& command,
                                      const std::vector<std::string>& args,
                                      const po::options_description& visible,
                                      const po::options_description& hidden,
                                      const SpecOptions& values, const char* usage) {
  po::positional_options_description positional;
  positional.add("spec", 1);
  if (auto done = parse_options(command, args, visible, hidden, positional, usage)) return done;
  if (values.spec.empty()) {
    std::cerr << "ferry " << command << ": give the VM spec, e.g. ferry " << command
              << " examples/hello.yaml\nSee: ferry " << command << " --help\n";
    return kExitUsage;
  }
  if (!init_logging(values.log_level)) return kExitUsage;
  return std::nullopt;
}

bool init_logging(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  // from_str maps anything unknown to "off"; only accept "off" when it was asked for.
  if (parsed == spdlog::level::off && level != "off") {
    std::cerr << "ferry: --log-level " << level
              << ": choose trace, debug, info, warn, error or off\n";
    return false;
  }
  // Not registered by name, so set-up can run more than once in a process (tests).
  auto logger = std::make_shared<spdlog::logger>(
      "ferry", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_pattern("ferry %^%l%$: %v");
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  return true;
}

std::optional<vmm::VmConfig> load_spec(const SpecOptions& options) {
  std::vector<vmm::ConfigOverride> overrides;
  for (const std::string& text : options.sets) {
    auto parsed = vmm::parse_config_override(text);
    if (!parsed) {
      spdlog::error("{}", parsed.error().message());
      return std::nullopt;
    }
    overrides.push_back(*parsed);
  }
  auto config = vmm::load_vm_config(options.spec, overrides);
  if (!config) {
    spdlog::error("{}", config.error().message());
    return std::nullopt;
  }
  return *config;
}

}  // namespace ferry::cli

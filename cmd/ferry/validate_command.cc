// ferry validate: check a VM spec (and its overrides) without running anything.
#include <iostream>

#include "commands.h"
#include "ferry/vmm/builtin_payloads.h"
#include "ferry/vmm/payload_plan.h"
#include "spec_options.h"

namespace ferry::cli {
namespace {

constexpr const char* kUsage =
    "Usage: ferry validate <vm.yaml> [options]\n"
    "Checks the spec as `ferry run` would read it; prints a summary, changes nothing.";

// Where the kernel, initrd and command line go: the same plan `ferry run` loads.
std::string linux_summary(const vmm::PayloadConfig& p, uint64_t memory_size) {
  auto prepared = vmm::prepare_payload(p, memory_size);
  if (!prepared) return fmt::format("Linux kernel {} ({})", p.file, prepared.error().message());
  const vmm::PayloadPlan& plan = prepared->plan;
  std::string text = fmt::format("Linux kernel {} (bzImage at {:#x}-{:#x}, 64-bit entry {:#x}",
                                 p.file, plan.loaded.begin, plan.loaded.end, plan.loaded.entry);
  if (!p.initrd.empty()) {
    text += fmt::format("; initrd {} at {:#x}", p.initrd, plan.pieces[1].gpa);
  }
  return text + fmt::format("; cmdline \"{}\")", p.cmdline);
}

std::string payload_summary(const vmm::PayloadConfig& p, uint64_t memory_size) {
  if (p.format == vmm::PayloadFormat::kLinux) return linux_summary(p, memory_size);
  const std::string source = p.builtin.empty() ? p.file : "built-in " + p.builtin;
  return fmt::format("{} ({}, {} mode)", source,
                     p.format == vmm::PayloadFormat::kElf ? "ELF" : "flat",
                     vmm::boot_mode_name(p.mode));
}

}  // namespace

int validate_command(const std::vector<std::string>& args) {
  SpecOptions spec;
  boost::program_options::options_description options("Options");
  boost::program_options::options_description hidden;
  options.add_options()("help,h", "show this help");
  add_spec_options(options, hidden, spec);
  if (auto done = parse_command_line("validate", args, options, hidden, spec, kUsage)) {
    return *done;
  }
  std::optional<vmm::VmConfig> config = load_spec(spec);
  if (!config) return kExitUsage;
  std::cout << fmt::format(
      "{}: valid. VM {}: {} vCPU(s), {} of memory{}, payload {}\n", spec.spec, config->name,
      config->vcpus, format_size(config->memory_size),
      config->huge_page_size ? " on " + format_size(config->huge_page_size) + " hugepages" : "",
      payload_summary(config->payload, config->memory_size));
  return 0;
}

}  // namespace ferry::cli

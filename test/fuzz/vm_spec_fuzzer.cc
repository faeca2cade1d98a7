// Fuzzes the VM spec loader with arbitrary YAML and --set overrides: whatever the bytes, the
// result is a VmConfig or an Error, never a crash, a sanitizer report or an escaping exception.
//
// Input layout: the spec text, then optionally "\n---set\n" followed by one override per line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/vmm/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  constexpr std::string_view kSeparator = "\n---set\n";
  const size_t split = input.find(kSeparator);
  const std::string_view spec = input.substr(0, split);

  std::vector<ferry::vmm::ConfigOverride> overrides;
  if (split != std::string_view::npos) {
    std::string_view rest = input.substr(split + kSeparator.size());
    while (!rest.empty() && overrides.size() < 8) {
      const size_t end = rest.find('\n');
      auto parsed = ferry::vmm::parse_config_override(rest.substr(0, end));
      if (parsed) overrides.push_back(*parsed);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    }
  }
  // A base directory that does not exist: payload files are never found, so nothing is read
  // from the host beyond what the parser itself does.
  auto config =
      ferry::vmm::parse_vm_config(spec, "fuzz.yaml", "/nonexistent-ferry-fuzz", overrides);
  if (!config && config.error().message().empty()) __builtin_trap();  // errors must say something
  return 0;
}

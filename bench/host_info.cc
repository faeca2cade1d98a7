#include "host_info.h"

#include <fmt/format.h>
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "child_run.h"

namespace ferry::bench {
namespace {

// The first value of `field` in /proc/cpuinfo ("model name", "flags").
std::string cpuinfo(const std::string& field) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon != std::string::npos)
      return line.substr(colon + 2 <= line.size() ? colon + 2 : colon);
  }
  return "unknown";
}

std::string kvm_flavour() {
  std::string modules;
  for (const char* name : {"kvm_intel", "kvm_amd", "kvm_pvm"}) {
    if (std::filesystem::exists(std::string("/sys/module/") + name)) {
      modules += std::string(modules.empty() ? "" : " ") + name;
    }
  }
  return fmt::format("/dev/kvm {}; modules: {}",
                     std::filesystem::exists("/dev/kvm") ? "present" : "absent",
                     modules.empty() ? "none of kvm_intel, kvm_amd, kvm_pvm" : modules);
}

std::string qemu_version(const std::string& qemu) {
  if (qemu.empty()) return "not used";
  ChildRun run = run_child({qemu, "--version"});
  const std::string first = run.out.substr(0, run.out.find('\n'));
  return first.empty() ? fmt::format("{} --version printed nothing", qemu) : first;
}

}  // namespace

std::string host_info(const std::string& qemu) {
  utsname names{};
  ::uname(&names);
  cpu_set_t usable;
  const int usable_cpus =
      sched_getaffinity(0, sizeof usable, &usable) == 0 ? CPU_COUNT(&usable) : -1;
  const bool guest = cpuinfo("flags").find(" hypervisor") != std::string::npos;
#ifdef __clang__
  const char* compiler = "clang";
#else
  const char* compiler = "gcc";
#endif
  std::string out;
  out += fmt::format("kernel: {} {}\n", names.release, names.version);
  out += fmt::format("CPU: {}, {} online, {} usable by this process{}\n", cpuinfo("model name"),
                     ::sysconf(_SC_NPROCESSORS_ONLN), usable_cpus,
                     guest ? " (a virtual machine: cpuinfo has the hypervisor flag)" : "");
  out += fmt::format("KVM: {}\n", kvm_flavour());
  out += fmt::format("compiler: {} {}\n", compiler, __VERSION__);
  out +=
      fmt::format("ferry: {} (git describe when cmake configured the build)\n", FERRY_GIT_REVISION);
  out += fmt::format("QEMU: {}\n", qemu_version(qemu));
  return out;
}

}  // namespace ferry::bench

// The versions and the machine a benchmark ran on, printed first so a kept output says what
// produced it: kernel, CPU, KVM flavour, compiler, ferry's revision and QEMU's version.
#pragma once

#include <string>

namespace ferry::bench {

/// Lines of "what: value". `qemu`: the QEMU binary to ask for its version, or empty.
std::string host_info(const std::string& qemu);

}  // namespace ferry::bench

// An accelerator (KVM, MSHV): the root object the VMM opens once per process.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "ferry/accel/registers.h"
#include "ferry/accel/vm.h"
#include "ferry/base/error.h"

namespace ferry::accel {

enum class Kind : uint8_t { kKvm, kMshv };

std::string_view kind_name(Kind kind);  // "kvm", "mshv"

struct VmOptions {
  unsigned vcpus = 1;  // an upper bound backends may size tables by
};

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  virtual Kind kind() const = 0;
  virtual unsigned max_vcpus() const = 0;
  /// The CPUID leaves this host can give a guest; the VMM adjusts per vCPU (APIC IDs).
  virtual Expected<std::vector<CpuidEntry>> supported_cpuid() = 0;
  virtual Expected<std::unique_ptr<Vm>> create_vm(const VmOptions& options) = 0;
};

}  // namespace ferry::accel

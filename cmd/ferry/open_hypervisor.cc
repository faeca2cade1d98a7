#include "open_hypervisor.h"

#include "ferry/kvm/kvm_hypervisor.h"

namespace ferry::cli {

Expected<AccelChoice> parse_accel(std::string_view text) {
  if (text == "auto") return AccelChoice::kAuto;
  if (text == "kvm") return AccelChoice::kKvm;
  return fail(Errc::kInvalidArgument, "--accel {}: choose auto or kvm", text);
}

Expected<std::unique_ptr<accel::Hypervisor>> open_hypervisor(AccelChoice) {
  // KVM is the only backend built so far, so auto and kvm mean the same.
  FERRY_ASSIGN(auto kvm, kvm::KvmHypervisor::open());
  return std::unique_ptr<accel::Hypervisor>(std::move(kvm));
}

}  // namespace ferry::cli

#include "open_hypervisor.h"

#include <unistd.h>

#include "ferry/kvm/kvm_hypervisor.h"
#include "ferry/mshv/mshv_hypervisor.h"

namespace ferry::cli {

Expected<AccelChoice> parse_accel(std::string_view text) {
  if (text == "auto") return AccelChoice::kAuto;
  if (text == "kvm") return AccelChoice::kKvm;
  if (text == "mshv") return AccelChoice::kMshv;
  return fail(Errc::kInvalidArgument, "--accel {}: choose auto, kvm or mshv", text);
}

Expected<AccelChoice> resolve_auto(const std::function<bool(const char*)>& exists) {
  const bool kvm = exists("/dev/kvm");
  const bool mshv = exists("/dev/mshv");
  if (kvm && mshv) {
    return fail(Errc::kInvalidArgument,
                "--accel auto: both /dev/kvm and /dev/mshv exist, which should not happen on one "
                "host; choose with --accel kvm or --accel mshv");
  }
  if (kvm) return AccelChoice::kKvm;
  if (mshv) return AccelChoice::kMshv;
  return fail(Errc::kNotFound,
              "--accel auto: this host has neither /dev/kvm (KVM: load kvm_intel or kvm_amd and "
              "enable virtualization in the firmware) nor /dev/mshv (a Microsoft Hypervisor root "
              "partition with the mshv_root driver, Linux 6.15+)");
}

Expected<std::unique_ptr<accel::Hypervisor>> open_hypervisor(AccelChoice choice) {
  if (choice == AccelChoice::kAuto) {
    FERRY_ASSIGN(choice, resolve_auto([](const char* path) { return ::access(path, F_OK) == 0; }));
  }
  if (choice == AccelChoice::kMshv) {
    FERRY_ASSIGN(auto mshv, mshv::MshvHypervisor::open());
    return std::unique_ptr<accel::Hypervisor>(std::move(mshv));
  }
  FERRY_ASSIGN(auto kvm, kvm::KvmHypervisor::open());
  return std::unique_ptr<accel::Hypervisor>(std::move(kvm));
}

}  // namespace ferry::cli

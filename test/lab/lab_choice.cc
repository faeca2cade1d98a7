#include "lab_choice.h"

#include <cstdlib>

#include "support/kvm_required.h"

namespace ferry::test {
namespace {

std::string env(const char* name, const char* fallback = "") {
  const char* value = std::getenv(name);
  return value != nullptr ? value : fallback;
}

}  // namespace

std::string why_kvm_tests_use_lab() {
  const std::string mode = env("FERRY_KVM", "auto");
  if (mode == "host") return {};
  if (mode == "lab") return "FERRY_KVM=lab";
  const std::string reason = kvm_unusable_reason();
  return reason.empty() ? std::string() : "this host has no usable KVM (" + reason + ")";
}

std::string kvm_lab_session_dir() { return env("FERRY_LAB_SESSION", FERRY_LAB_SESSION_DIR); }

std::string vfio_lab_session_dir() {
  if (env("FERRY_VFIO_LAB_KERNEL") == "debian") {
    return env("FERRY_DEBIAN_LAB_SESSION", FERRY_DEBIAN_LAB_SESSION_DIR);
  }
  if (!why_kvm_tests_use_lab().empty()) return kvm_lab_session_dir();
  return env("FERRY_VFIO_LAB_SESSION", FERRY_VFIO_LAB_SESSION_DIR);
}

std::string vfio_lab_kernel_mismatch(const std::string& session_kernel) {
  const std::string wanted = env("FERRY_VFIO_LAB_KERNEL");
  if (wanted.empty()) return {};
  std::string kernel = session_kernel.substr(0, session_kernel.find('\n'));
  if (kernel.rfind(wanted + " ", 0) == 0) return {};
  if (kernel.empty()) kernel = "none recorded: did scripts/lab start finish?";
  return "this test is registered for the lab on the " + wanted +
         " kernel (FERRY_VFIO_LAB_KERNEL), but its session " + vfio_lab_session_dir() +
         " runs another (" + kernel + ")";
}

}  // namespace ferry::test

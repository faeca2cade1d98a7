// The KVM accelerator: /dev/kvm and the capabilities ferry relies on.
#pragma once

#include <memory>
#include <string>

#include "ferry/accel/hypervisor.h"
#include "ferry/base/unique_fd.h"
#include "ferry/kvm/kvm_sys.h"

namespace ferry::kvm {

class KvmHypervisor final : public accel::Hypervisor {
 public:
  /// Opens the device and checks the API version and every capability ferry needs; a missing
  /// one is an error naming it.
  static Expected<std::unique_ptr<KvmHypervisor>> open(KvmSys& sys = KvmSys::real(),
                                                       const std::string& path = "/dev/kvm");

  accel::Kind kind() const override { return accel::Kind::kKvm; }
  unsigned max_vcpus() const override { return max_vcpus_; }
  Expected<std::vector<accel::CpuidEntry>> supported_cpuid() override;
  Expected<std::unique_ptr<accel::Vm>> create_vm(const accel::VmOptions& options) override;

 private:
  KvmHypervisor(KvmSys& sys, UniqueFd fd) : sys_(sys), fd_(std::move(fd)) {}
  Expected<void> check_capabilities();

  KvmSys& sys_;
  UniqueFd fd_;
  size_t vcpu_mmap_size_ = 0;
  unsigned max_vcpus_ = 0;
  unsigned max_routes_ = 0;
};

}  // namespace ferry::kvm

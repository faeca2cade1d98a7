// The Microsoft Hypervisor accelerator: /dev/mshv on a Linux root partition (often an "L1VH"
// root on Azure), through the upstream ABI of Linux 6.15+. See docs/mshv.md.
#pragma once

#include <memory>
#include <string>

#include "ferry/accel/hypervisor.h"
#include "ferry/base/unique_fd.h"
#include "ferry/mshv/mmio_emulator.h"
#include "ferry/mshv/mshv_driver.h"

namespace ferry::mshv {

struct MshvOptions {
  // Create partitions with MSHV_PT_BIT_CPU_AND_XSAVE_FEATURES and these masks of processor
  // features to disable (two banks) and xsave features to disable. 6.15/6.16 kernels refuse it.
  bool cpu_feature_banks = false;
  uint64_t disabled_processor_features[2] = {0, 0};
  uint64_t disabled_xsave_features = 0;
  // Carries out the MMIO instructions (memory intercepts) of every vCPU instead of lib/x86 (for
  // tests). Without one, each vCPU has a lib/x86 emulator of its own.
  std::shared_ptr<MmioEmulator> mmio_emulator;
};

class MshvHypervisor final : public accel::Hypervisor {
 public:
  /// Opens the device. There is nothing to probe up front: the upstream ABI has no capability
  /// query, so an ioctl this kernel lacks is reported (by name) when it is first used.
  static Expected<std::unique_ptr<MshvHypervisor>> open(MshvDriver& driver = MshvDriver::real(),
                                                        const std::string& path = "/dev/mshv",
                                                        MshvOptions options = {});

  accel::Kind kind() const override { return accel::Kind::kMshv; }
  unsigned max_vcpus() const override;
  /// The host's CPUID leaves, less what a partition cannot offer (VMX, SMX), with the hypervisor
  /// and x2APIC bits set.
  Expected<std::vector<accel::CpuidEntry>> supported_cpuid() override;
  Expected<std::unique_ptr<accel::Vm>> create_vm(const accel::VmOptions& options) override;

 private:
  MshvHypervisor(MshvDriver& driver, UniqueFd fd, MshvOptions options)
      : driver_(driver), fd_(std::move(fd)), options_(std::move(options)) {}

  MshvDriver& driver_;
  UniqueFd fd_;
  MshvOptions options_;
};

}  // namespace ferry::mshv

// A KVM vCPU: its fd, the shared kvm_run page, and the exit decoding of the run loop.
#pragma once

#include <linux/kvm.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "ferry/accel/vcpu.h"
#include "ferry/base/mapping.h"
#include "ferry/base/unique_fd.h"
#include "ferry/kvm/kvm_sys.h"
#include "kvm_abi.h"

namespace ferry::kvm {

// The XCR0 a vCPU starts with: every state component CPUID 0xD.0 EDX:EAX offers, 0 when
// CPUID.1 has no XSAVE. KvmVcpu::set_cpuid sets it after the table (kvm_vcpu.cc says why).
uint64_t xcr0_offered(std::span<const accel::CpuidEntry> entries);

class KvmVcpu final : public accel::Vcpu {
 public:
  static Expected<std::unique_ptr<KvmVcpu>> create(KvmSys& sys, UniqueFd fd, unsigned index,
                                                   size_t mmap_size);

  unsigned index() const override { return index_; }
  Expected<accel::Regs> get_regs() override;
  Expected<void> set_regs(const accel::Regs& regs) override;
  Expected<accel::SpecialRegs> get_special_regs() override;
  Expected<void> set_special_regs(const accel::SpecialRegs& sregs) override;
  Expected<accel::FpuState> get_fpu() override;
  Expected<void> set_fpu(const accel::FpuState& fpu) override;
  Expected<void> set_cpuid(std::span<const accel::CpuidEntry> entries) override;
  Expected<void> set_mp_state(accel::MpState state) override;
  Expected<accel::Exit> run(accel::GuestIo& io) noexcept override;
  Expected<void> complete_pending_io(accel::GuestIo& io) noexcept override;
  void request_exit() noexcept override;

 private:
  KvmVcpu(KvmSys& sys, UniqueFd fd, unsigned index, Mapping run)
      : sys_(sys), fd_(std::move(fd)), index_(index), run_mapping_(std::move(run)) {}
  kvm_run* run_page() const { return reinterpret_cast<kvm_run*>(run_mapping_.data()); }
  Expected<std::array<uint8_t, kKvmXsaveSize>> get_xsave();
  // KVM_SET_XCRS; 0 sets nothing.
  Expected<void> set_xcr0(uint64_t xcr0);
  void handle_io(accel::GuestIo& io) noexcept;
  void handle_mmio(accel::GuestIo& io) noexcept;
  // An error for a run that cannot continue, with the guest's registers appended.
  Error run_error(std::string what);

  KvmSys& sys_;
  UniqueFd fd_;
  unsigned index_;
  Mapping run_mapping_;
  // The last KVM_RUN ended in an MMIO or PIO exit: KVM finishes that instruction on re-entry.
  bool io_pending_ = false;
};

}  // namespace ferry::kvm

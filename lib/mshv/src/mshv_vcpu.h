// An MSHV virtual processor: its fd, its register page, and the run loop that turns intercept
// messages into GuestIo calls and exits.
#pragma once

#include <atomic>
#include <memory>

#include "ferry/accel/vcpu.h"
#include "ferry/base/mapping.h"
#include "ferry/base/unique_fd.h"
#include "ferry/mshv/mmio_emulator.h"
#include "ferry/mshv/mshv_abi.h"
#include "ferry/mshv/vp_context.h"
#include "mshv_partition.h"

namespace ferry::mshv {

class MshvVcpu final : public accel::Vcpu, private VpContext {
 public:
  /// Takes a fresh VP fd: maps its register page (when the kernel offers one) and wires LINT0 to
  /// ExtINT and LINT1 to NMI, as firmware does. MMIO instructions go to `emulator` when it is
  /// given, else to a lib/x86 emulator of the vCPU's own.
  static Expected<std::unique_ptr<MshvVcpu>> create(std::shared_ptr<MshvPartition> partition,
                                                    UniqueFd fd, unsigned index,
                                                    MmioEmulator* emulator);

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
  // run() finishes an intercepted instruction (RIP included) before it returns: nothing pends.
  Expected<void> complete_pending_io(accel::GuestIo&) noexcept override { return {}; }
  void request_exit() noexcept override;

  /// The LAPIC state (MSHV_GET_VP_STATE / MSHV_SET_VP_STATE).
  Expected<HvLapicState> get_lapic();
  Expected<void> set_lapic(const HvLapicState& lapic);
  bool has_register_page() const { return register_page_.data() != nullptr; }

 private:
  MshvVcpu(std::shared_ptr<MshvPartition> partition, UniqueFd fd, unsigned index,
           Mapping register_page, std::unique_ptr<MmioEmulator> own_emulator,
           MmioEmulator* emulator);

  // VpContext
  uint32_t vp_index() const override { return index_; }
  Expected<void> read_values(std::span<const uint32_t> names,
                             std::span<HvRegisterValue> values) override;
  Expected<void> write_values(std::span<const uint32_t> names,
                              std::span<const HvRegisterValue> values) override;
  Expected<HvOutputTranslateVirtualAddress> translate_gva(uint64_t gva, uint64_t flags) override;
  bool read_ram(uint64_t gpa, std::span<uint8_t> data) noexcept override;
  bool write_ram(uint64_t gpa, std::span<const uint8_t> data) noexcept override;

  // The register page when the hypervisor has filled it (after the first intercept); else null.
  HvVpRegisterPage* valid_page() const;
  Hvcall hvcall() const { return Hvcall(partition_->driver(), fd_.get()); }
  Expected<void> vp_state(uint8_t type, bool set, Mapping& buffer);
  Expected<accel::Exit> handle_message(const MshvRunVp& message, accel::GuestIo& io) noexcept;
  // An error for a run that cannot continue, with the guest's registers appended.
  Error run_error(std::string what, Errc code = Errc::kGuestFault);

  std::shared_ptr<MshvPartition> partition_;
  UniqueFd fd_;
  unsigned index_;
  Mapping register_page_;  // empty when the kernel offers none (then hypercalls only)
  std::unique_ptr<MmioEmulator> own_emulator_;  // lib/x86, unless the VM was given a stand-in
  MmioEmulator* emulator_;                      // never null
  std::atomic<bool> exit_requested_{false};
};

}  // namespace ferry::mshv

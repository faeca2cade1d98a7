#include "kvm_vcpu.h"

#include <cstring>
#include <vector>

#include "ferry/accel/vcpu_error.h"
#include "ferry/base/hot_path.h"
#include "kvm_abi.h"
#include "kvm_registers.h"

namespace ferry::kvm {
namespace {

const char* internal_suberror_name(uint32_t suberror) {
  switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION:
      return "KVM could not emulate an instruction";
    case KVM_INTERNAL_ERROR_SIMUL_EX:
      return "exception during exception delivery";
    case KVM_INTERNAL_ERROR_DELIVERY_EV:
      return "exit during event delivery";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
      return "unexpected hardware exit reason";
    default:
      return "unknown suberror";
  }
}

}  // namespace

Expected<std::unique_ptr<KvmVcpu>> KvmVcpu::create(KvmSys& sys, UniqueFd fd, unsigned index,
                                                   size_t mmap_size) {
  FERRY_ASSIGN(Mapping run, sys.map(fd.get(), mmap_size, 0));
  return std::unique_ptr<KvmVcpu>(new KvmVcpu(sys, std::move(fd), index, std::move(run)));
}

Expected<accel::Regs> KvmVcpu::get_regs() {
  kvm_regs regs{};
  int r = sys_.ioctl(fd_.get(), KVM_GET_REGS, &regs);
  if (r < 0) return fail_errno(-r, "KVM_GET_REGS");
  return from_kvm(regs);
}

Expected<void> KvmVcpu::set_regs(const accel::Regs& regs) {
  kvm_regs k = to_kvm(regs);
  int r = sys_.ioctl(fd_.get(), KVM_SET_REGS, &k);
  if (r < 0) return fail_errno(-r, "KVM_SET_REGS");
  return {};
}

Expected<accel::SpecialRegs> KvmVcpu::get_special_regs() {
  kvm_sregs sregs{};
  int r = sys_.ioctl(fd_.get(), KVM_GET_SREGS, &sregs);
  if (r < 0) return fail_errno(-r, "KVM_GET_SREGS");
  return from_kvm(sregs);
}

Expected<void> KvmVcpu::set_special_regs(const accel::SpecialRegs& sregs) {
  kvm_sregs current{};
  int r = sys_.ioctl(fd_.get(), KVM_GET_SREGS, &current);
  if (r < 0) return fail_errno(-r, "KVM_GET_SREGS");
  kvm_sregs k = to_kvm(sregs, current);
  r = sys_.ioctl(fd_.get(), KVM_SET_SREGS, &k);
  if (r < 0) return fail_errno(-r, "KVM_SET_SREGS");
  return {};
}

// FPU and SSE state go through the XSAVE area, not KVM_GET/SET_FPU: KVM_SET_FPU fills the legacy
// region but leaves XSTATE_BV alone, so on a vCPU that has not used SSE yet the hypervisor's
// XRSTOR loads the init state and the guest sees zeroed XMM registers.
Expected<std::array<uint8_t, kKvmXsaveSize>> KvmVcpu::get_xsave() {
  std::array<uint8_t, kKvmXsaveSize> area{};
  int r = sys_.ioctl(fd_.get(), kKvmGetXsave, area.data());
  if (r < 0) return fail_errno(-r, "KVM_GET_XSAVE");
  return area;
}

Expected<accel::FpuState> KvmVcpu::get_fpu() {
  FERRY_ASSIGN(auto area, get_xsave());
  return fpu_from_xsave(area);
}

Expected<void> KvmVcpu::set_fpu(const accel::FpuState& fpu) {
  FERRY_ASSIGN(auto area, get_xsave());
  fpu_into_xsave(fpu, area);
  int r = sys_.ioctl(fd_.get(), kKvmSetXsave, area.data());
  if (r < 0) return fail_errno(-r, "KVM_SET_XSAVE");
  return {};
}

Expected<void> KvmVcpu::set_cpuid(std::span<const accel::CpuidEntry> entries) {
  KvmCpuid cpuid(entries.size());
  cpuid.header().nent = static_cast<uint32_t>(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    kvm_cpuid_entry2& k = cpuid.entries()[i];
    k.function = entries[i].function;
    k.index = entries[i].index;
    k.flags =
        entries[i].flags & accel::kCpuidSignificantIndex ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
    k.eax = entries[i].eax, k.ebx = entries[i].ebx;
    k.ecx = entries[i].ecx, k.edx = entries[i].edx;
  }
  int r = sys_.ioctl(fd_.get(), kKvmSetCpuid2, cpuid.data());
  if (r < 0) return fail_errno(-r, fmt::format("KVM_SET_CPUID2 on vCPU {}", index_));
  return set_xcr0(xcr0_offered(entries));
}

// KVM recomputes CPUID 0xD.0 EBX (the XSAVE size for the features on in XCR0) from its own record
// of XCR0, which it updates when the guest's XSETBV exits to it. Under an emulated SVM that does
// not intercept XSETBV (QEMU TCG, the lab) no exit comes: KVM keeps XCR0 = x87 from reset, EBX
// stays 576 while the guest runs with AVX on (Linux warns "XSAVE consistency problem"), and KVM
// loads that stale XCR0 back into the guest at every entry. Starting the vCPU with every
// component the CPUID offers on, which is what Linux enables, keeps both right; a guest that
// writes XCR0 itself on real hardware exits as always.
Expected<void> KvmVcpu::set_xcr0(uint64_t xcr0) {
  if (xcr0 == 0) return {};  // no XSAVE: XCR0 does not exist
  kvm_xcrs xcrs{};
  xcrs.nr_xcrs = 1;
  xcrs.xcrs[0].xcr = 0;
  xcrs.xcrs[0].value = xcr0;
  int r = sys_.ioctl(fd_.get(), KVM_SET_XCRS, &xcrs);
  if (r < 0)
    return fail_errno(-r, fmt::format("KVM_SET_XCRS (XCR0 {:#x}) on vCPU {}", xcr0, index_));
  return {};
}

uint64_t xcr0_offered(std::span<const accel::CpuidEntry> entries) {
  constexpr uint32_t kXsave = 1u << 26;  // CPUID.1:ECX
  bool xsave = false;
  uint64_t components = 0;
  for (const accel::CpuidEntry& e : entries) {
    if (e.function == 0x1) xsave = e.ecx & kXsave;
    if (e.function == 0xd && e.index == 0) components = e.eax | uint64_t{e.edx} << 32;
  }
  return xsave ? components : 0;
}

Expected<void> KvmVcpu::set_mp_state(accel::MpState state) {
  kvm_mp_state mp{};
  mp.mp_state =
      state == accel::MpState::kRunnable ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_INIT_RECEIVED;
  int r = sys_.ioctl(fd_.get(), KVM_SET_MP_STATE, &mp);
  if (r < 0) return fail_errno(-r, fmt::format("KVM_SET_MP_STATE on vCPU {}", index_));
  return {};
}

void KvmVcpu::request_exit() noexcept {
  __atomic_store_n(&run_page()->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

FERRY_HOT void KvmVcpu::handle_io(accel::GuestIo& io) noexcept {
  kvm_run* run = run_page();
  auto* data = reinterpret_cast<uint8_t*>(run) + run->io.data_offset;
  const size_t size = run->io.size;
  // count > 1 is a REP INS/OUTS that KVM batched: one access per element.
  for (uint32_t i = 0; i < run->io.count; ++i, data += size) {
    if (run->io.direction == KVM_EXIT_IO_OUT) {
      io.pio_write(run->io.port, {data, size});
    } else {
      io.pio_read(run->io.port, {data, size});
    }
  }
}

FERRY_HOT void KvmVcpu::handle_mmio(accel::GuestIo& io) noexcept {
  kvm_run* run = run_page();
  const size_t length = std::min<size_t>(run->mmio.len, sizeof run->mmio.data);
  if (run->mmio.is_write) {
    io.mmio_write(run->mmio.phys_addr, {run->mmio.data, length});
  } else {
    io.mmio_read(run->mmio.phys_addr, {run->mmio.data, length});
  }
}

FERRY_HOT Expected<accel::Exit> KvmVcpu::run(accel::GuestIo& io) noexcept {
  using accel::Exit;
  using accel::ExitKind;
  int r = sys_.ioctl(fd_.get(), KVM_RUN, nullptr);
  io_pending_ = false;  // this KVM_RUN began by finishing the previous exit's instruction
  kvm_run* run = run_page();
  if (r < 0) {
    if (r == -EINTR || r == -EAGAIN) {
      __atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
      return Exit{ExitKind::kInterrupted};
    }
    return fail(run_error(fmt::format("KVM_RUN failed: {} (errno {})", std::strerror(-r), -r)));
  }
  switch (run->exit_reason) {
    case KVM_EXIT_IO:
      handle_io(io);
      io_pending_ = true;
      return Exit{ExitKind::kHandled};
    case KVM_EXIT_MMIO:
      handle_mmio(io);
      io_pending_ = true;
      return Exit{ExitKind::kHandled};
    case KVM_EXIT_HLT:
      return Exit{ExitKind::kHalt};
    case KVM_EXIT_SHUTDOWN:
      // A triple fault: on real hardware the chipset resets the machine.
      return Exit{ExitKind::kReset};
    case KVM_EXIT_INTR:
      return Exit{ExitKind::kInterrupted};
    case KVM_EXIT_IOAPIC_EOI:
      return Exit{ExitKind::kIoapicEoi, run->eoi.vector};
    case KVM_EXIT_SYSTEM_EVENT:
      switch (run->system_event.type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN:
          return Exit{ExitKind::kShutdown};
        case KVM_SYSTEM_EVENT_RESET:
          return Exit{ExitKind::kReset};
        default:
          return fail(run_error(fmt::format("the guest reported a system event of type {} (crash)",
                                            run->system_event.type)));
      }
    case KVM_EXIT_FAIL_ENTRY:
      return fail(run_error(fmt::format(
          "the CPU refused to enter the guest (hardware entry failure reason {:#x}); the vCPU "
          "state below is invalid",
          run->fail_entry.hardware_entry_failure_reason)));
    case KVM_EXIT_INTERNAL_ERROR: {
      std::string data;
      for (uint32_t i = 0; i < std::min<uint32_t>(run->internal.ndata, 16); ++i) {
        data += fmt::format(" {:#x}", run->internal.data[i]);
      }
      return fail(
          run_error(fmt::format("KVM internal error {}: {}; data:{}", run->internal.suberror,
                                internal_suberror_name(run->internal.suberror), data)));
    }
    case KVM_EXIT_UNKNOWN:
      return fail(run_error(
          fmt::format("unknown hardware exit reason {:#x}", run->hw.hardware_exit_reason)));
    default:
      return fail(run_error(fmt::format("unhandled KVM exit reason {}", run->exit_reason)));
  }
}

// KVM completes an MMIO or PIO instruction (stores what was read, advances RIP) only when KVM_RUN
// is entered again. With immediate_exit set it does that and returns EINTR without running the
// guest (Documentation/virt/kvm/api.rst, KVM_EXIT_MMIO and immediate_exit; x86.c runs
// complete_userspace_io before it checks immediate_exit).
Expected<void> KvmVcpu::complete_pending_io(accel::GuestIo& io) noexcept {
  // An access split in pieces (across a page, or 16 bytes) exits once per piece: each is served.
  while (io_pending_) {
    __atomic_store_n(&run_page()->immediate_exit, 1, __ATOMIC_SEQ_CST);
    FERRY_ASSIGN(const accel::Exit exit, run(io));
    if (exit.kind != accel::ExitKind::kHandled && exit.kind != accel::ExitKind::kInterrupted) {
      return fail(run_error(fmt::format(
          "KVM_RUN with immediate_exit ended in exit kind {} instead of completing the I/O",
          static_cast<int>(exit.kind))));
    }
  }
  return {};
}

Error KvmVcpu::run_error(std::string what) { return accel::vcpu_error(*this, std::move(what)); }

}  // namespace ferry::kvm

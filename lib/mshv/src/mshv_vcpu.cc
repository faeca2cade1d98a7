#include "mshv_vcpu.h"

#include <cerrno>
#include <cstring>

#include "ferry/accel/vcpu_error.h"
#include "ferry/base/checked.h"
#include "hv_registers.h"
#include "io_port_intercept.h"
#include "ioctl_error.h"
#include "memory_intercept.h"
#include "x86_mmio_emulator.h"

namespace ferry::mshv {
namespace {

constexpr size_t kMaxNamesPerAccess = 32;

// The register page's copy of `name`: general registers, RIP and RFLAGS (which the VMM may have
// written since the intercept), the segment registers and the control registers the hypervisor
// filled in (read-only here). False for any other name.
bool page_value(HvVpRegisterPage& page, uint32_t name, HvRegisterValue& out) {
  uint32_t dirty_class = 0;
  if (const uint64_t* slot = page_slot(page, name, &dirty_class)) {
    out = {*slot, 0};
    return true;
  }
  if (name >= kHvRegEs && name <= kHvRegGs) {  // the page's order: es cs ss ds fs gs
    std::memcpy(&out, &page.segments[name - kHvRegEs], sizeof out);
    return true;
  }
  const uint64_t* control = nullptr;
  switch (name) {
    case kHvRegCr0:
      control = &page.cr0;
      break;
    case kHvRegCr3:
      control = &page.cr3;
      break;
    case kHvRegCr4:
      control = &page.cr4;
      break;
    case kHvRegCr8:
      control = &page.cr8;
      break;
    case kHvRegEfer:
      control = &page.efer;
      break;
    default:
      return false;
  }
  out = {*control, 0};
  return true;
}

}  // namespace

MshvVcpu::MshvVcpu(std::shared_ptr<MshvPartition> partition, UniqueFd fd, unsigned index,
                   Mapping register_page, std::unique_ptr<MmioEmulator> own_emulator,
                   MmioEmulator* emulator)
    : partition_(std::move(partition)),
      fd_(std::move(fd)),
      index_(index),
      register_page_(std::move(register_page)),
      own_emulator_(std::move(own_emulator)),
      emulator_(emulator != nullptr ? emulator : own_emulator_.get()) {}

Expected<std::unique_ptr<MshvVcpu>> MshvVcpu::create(std::shared_ptr<MshvPartition> partition,
                                                     UniqueFd fd, unsigned index,
                                                     MmioEmulator* emulator) {
  Mapping page;
  auto mapped = partition->driver().map_vp_page(fd.get(), kHvPageSize, kVpMmapRegisters);
  if (mapped) {
    page = std::move(*mapped);
  } else if (mapped.error().sys_errno() != ENODEV) {
    // ENODEV: this partition has no register page (an isolated one); hypercalls do it all.
    return fail(mapped.error().context(fmt::format("mapping the register page of VP {}", index)));
  }
  std::unique_ptr<MmioEmulator> own_emulator;
  if (emulator == nullptr) own_emulator = make_x86_mmio_emulator(partition->driver());
  std::unique_ptr<MshvVcpu> vcpu(new MshvVcpu(std::move(partition), std::move(fd), index,
                                              std::move(page), std::move(own_emulator), emulator));
  FERRY_ASSIGN(HvLapicState lapic, vcpu->get_lapic());
  lapic.apic_lvt_lint0 = (lapic.apic_lvt_lint0 & ~kApicDeliveryModeMask) | kApicDeliveryExtInt;
  lapic.apic_lvt_lint1 = (lapic.apic_lvt_lint1 & ~kApicDeliveryModeMask) | kApicDeliveryNmi;
  FERRY_TRY(vcpu->set_lapic(lapic));
  return vcpu;
}

HvVpRegisterPage* MshvVcpu::valid_page() const {
  auto* page = reinterpret_cast<HvVpRegisterPage*>(register_page_.data());
  if (page == nullptr || __atomic_load_n(&page->isvalid, __ATOMIC_ACQUIRE) == 0) return nullptr;
  return page;
}

// --- registers
// ------------------------------------------------------------------------------------

Expected<accel::Regs> MshvVcpu::get_regs() {
  if (HvVpRegisterPage* page = valid_page()) return regs_from_page(*page);
  std::array<HvRegisterValue, 18> values{};
  FERRY_TRY(hvcall().get_vp_registers(index_, kGeneralRegisterNames, values));
  return regs_from_values(values);
}

Expected<void> MshvVcpu::set_regs(const accel::Regs& regs) {
  if (HvVpRegisterPage* page = valid_page()) {
    regs_to_page(regs, *page);
    return {};
  }
  return hvcall().set_vp_registers(index_, kGeneralRegisterNames, regs_to_values(regs));
}

Expected<accel::SpecialRegs> MshvVcpu::get_special_regs() {
  std::array<HvRegisterValue, 17> values{};
  FERRY_TRY(hvcall().get_vp_registers(index_, kSpecialRegisterNames, values));
  return sregs_from_values(values);
}

Expected<void> MshvVcpu::set_special_regs(const accel::SpecialRegs& sregs) {
  return hvcall().set_vp_registers(index_, kSpecialRegisterNames, sregs_to_values(sregs));
}

Expected<accel::FpuState> MshvVcpu::get_fpu() {
  std::array<HvRegisterValue, 18> values{};
  FERRY_TRY(hvcall().get_vp_registers(index_, kFpuRegisterNames, values));
  return fpu_from_values(values);
}

Expected<void> MshvVcpu::set_fpu(const accel::FpuState& fpu) {
  std::array<HvRegisterValue, 18> current{};
  FERRY_TRY(hvcall().get_vp_registers(index_, kFpuRegisterNames, current));
  return hvcall().set_vp_registers(index_, kFpuRegisterNames, fpu_to_values(fpu, current));
}

Expected<void> MshvVcpu::set_cpuid(std::span<const accel::CpuidEntry> entries) {
  // The hypervisor answers CPUID itself; each leaf's result is registered once per VP and then
  // always overrides the hypervisor's own value (all mask bits set).
  for (const accel::CpuidEntry& e : entries) {
    HvCpuidResultParameters params{};
    params.input_eax = e.function;
    params.input_ecx = e.index;
    params.subleaf_specific = (e.flags & accel::kCpuidSignificantIndex) ? 1 : 0;
    params.always_override = 1;
    params.eax = e.eax, params.ebx = e.ebx, params.ecx = e.ecx, params.edx = e.edx;
    params.eax_mask = params.ebx_mask = params.ecx_mask = params.edx_mask = 0xffffffff;
    FERRY_TRY(hvcall().register_cpuid_result(index_, params));
  }
  return {};
}

Expected<void> MshvVcpu::set_mp_state(accel::MpState state) {
  if (state == accel::MpState::kRunnable) return {};  // an MSHV VP runs when RUN_VP dispatches it
  return fail(Errc::kUnsupported,
              "vCPU {}: parking an application processor until INIT/SIPI is not implemented on "
              "MSHV; start every vCPU at its entry point",
              index_);
}

Expected<HvLapicState> MshvVcpu::get_lapic() {
  FERRY_ASSIGN(Mapping buffer, Mapping::anonymous(kHvPageSize));
  FERRY_TRY(vp_state(kVpStateLapic, false, buffer));
  HvLapicState lapic;
  std::memcpy(&lapic, buffer.data(), sizeof lapic);
  return lapic;
}

Expected<void> MshvVcpu::set_lapic(const HvLapicState& lapic) {
  // The state is a whole page; keep what follows the structure as the hypervisor has it.
  FERRY_ASSIGN(Mapping buffer, Mapping::anonymous(kHvPageSize));
  FERRY_TRY(vp_state(kVpStateLapic, false, buffer));
  std::memcpy(buffer.data(), &lapic, sizeof lapic);
  return vp_state(kVpStateLapic, true, buffer);
}

Expected<void> MshvVcpu::vp_state(uint8_t type, bool set, Mapping& buffer) {
  const unsigned long request = set ? kMshvSetVpState : kMshvGetVpState;
  for (int attempt = 0; attempt < 2; ++attempt) {
    MshvGetSetVpState args{};
    args.type = type;
    args.buf_sz = static_cast<uint32_t>(buffer.size());
    args.buf_ptr = reinterpret_cast<uint64_t>(buffer.data());
    int r = partition_->driver().ioctl(fd_.get(), request, &args);
    if (r >= 0) return {};
    // EINVAL with a larger size written back: the buffer was too small for this state.
    if (r == -EINVAL && args.buf_sz > buffer.size() && !set && attempt == 0) {
      FERRY_ASSIGN(buffer, Mapping::anonymous(align_up(args.buf_sz, kHvPageSize)));
      continue;
    }
    return fail(ioctl_error(-r, request, fmt::format("state {} of VP {}", type, index_)));
  }
  return fail(Errc::kInternal, "VP {}: state {} does not fit", index_, type);
}

// --- VpContext
// ------------------------------------------------------------------------------------

Expected<void> MshvVcpu::read_values(std::span<const uint32_t> names,
                                     std::span<HvRegisterValue> values) {
  if (names.size() > kMaxNamesPerAccess || values.size() < names.size()) {
    return fail(Errc::kInternal, "read_values: {} names, {} values", names.size(), values.size());
  }
  // Page-resident registers come from the page: it may hold values written since the intercept
  // that the hypervisor has not taken yet. The rest by hypercall.
  HvVpRegisterPage* page = valid_page();
  std::array<uint32_t, kMaxNamesPerAccess> rest_names{};
  std::array<size_t, kMaxNamesPerAccess> rest_index{};
  size_t rest = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    if (page == nullptr || !page_value(*page, names[i], values[i])) {
      rest_names[rest] = names[i];
      rest_index[rest++] = i;
    }
  }
  if (rest == 0) return {};
  std::array<HvRegisterValue, kMaxNamesPerAccess> got{};
  FERRY_TRY(hvcall().get_vp_registers(index_, {rest_names.data(), rest}, {got.data(), rest}));
  for (size_t i = 0; i < rest; ++i) values[rest_index[i]] = got[i];
  return {};
}

Expected<void> MshvVcpu::write_values(std::span<const uint32_t> names,
                                      std::span<const HvRegisterValue> values) {
  if (names.size() > kMaxNamesPerAccess || values.size() != names.size()) {
    return fail(Errc::kInternal, "write_values: {} names, {} values", names.size(), values.size());
  }
  HvVpRegisterPage* page = valid_page();
  std::array<uint32_t, kMaxNamesPerAccess> rest_names{};
  std::array<HvRegisterValue, kMaxNamesPerAccess> rest_values{};
  size_t rest = 0;
  uint32_t dirty = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    uint32_t dirty_class = 0;
    uint64_t* slot = page ? page_slot(*page, names[i], &dirty_class) : nullptr;
    if (slot != nullptr) {
      *slot = values[i].low;
      dirty |= dirty_class;
    } else {
      rest_names[rest] = names[i];
      rest_values[rest++] = values[i];
    }
  }
  if (page != nullptr) __atomic_or_fetch(&page->dirty, dirty, __ATOMIC_RELEASE);
  if (rest == 0) return {};
  return hvcall().set_vp_registers(index_, {rest_names.data(), rest}, {rest_values.data(), rest});
}

Expected<HvOutputTranslateVirtualAddress> MshvVcpu::translate_gva(uint64_t gva, uint64_t flags) {
  return hvcall().translate_gva(index_, gva, flags);
}

bool MshvVcpu::read_ram(uint64_t gpa, std::span<uint8_t> data) noexcept {
  return partition_->read_ram(gpa, data);
}

bool MshvVcpu::write_ram(uint64_t gpa, std::span<const uint8_t> data) noexcept {
  return partition_->write_ram(gpa, data);
}

// --- the run loop
// -----------------------------------------------------------------------------------

void MshvVcpu::request_exit() noexcept { exit_requested_.store(true, std::memory_order_release); }

Expected<accel::Exit> MshvVcpu::run(accel::GuestIo& io) noexcept {
  using accel::Exit;
  using accel::ExitKind;
  // MSHV has no immediate_exit: a request made before this point is seen here; one made after it
  // relies on the kick signal interrupting MSHV_RUN_VP.
  if (exit_requested_.exchange(false, std::memory_order_acq_rel))
    return Exit{ExitKind::kInterrupted};
  FERRY_TRY(partition_->start_clock());
  MshvRunVp message;
  int r = partition_->driver().ioctl(fd_.get(), kMshvRunVp, &message);
  if (r < 0) {
    if (r == -EINTR || r == -EAGAIN) {
      exit_requested_.store(false, std::memory_order_release);
      return Exit{ExitKind::kInterrupted};
    }
    const Error error = ioctl_error(-r, kMshvRunVp, "(running the VP)");
    return fail(run_error(error.message(), error.code()));
  }
  return handle_message(message, io);
}

Expected<accel::Exit> MshvVcpu::handle_message(const MshvRunVp& message,
                                               accel::GuestIo& io) noexcept {
  using accel::Exit;
  using accel::ExitKind;
  HvMessageHeader header;
  std::memcpy(&header, message.msg_buf, sizeof header);
  const uint8_t* payload = message.msg_buf + sizeof header;
  const char* name = hv_message_name(header.message_type);
  // Every payload is checked against the size of what it must hold before it is read.
  auto payload_as = [&](auto& out) -> Expected<void> {
    if (header.payload_size > kHvMessagePayloadSize || header.payload_size < sizeof out) {
      return fail(Errc::kGuestFault,
                  "MSHV_RUN_VP returned a {} message with a {}-byte payload; "
                  "it needs {} bytes",
                  name, header.payload_size, sizeof out);
    }
    std::memcpy(&out, payload, sizeof out);
    return {};
  };
  auto failed = [&](const Error& error) { return fail(run_error(error.message(), error.code())); };

  switch (header.message_type) {
    case kHvMessageNone:
      return Exit{ExitKind::kHandled};
    case kHvMessageX64IoPortIntercept: {
      HvX64IoPortInterceptMessage m;
      if (auto ok = payload_as(m); !ok) return failed(ok.error());
      if (auto done = handle_io_port_intercept(m, *this, io); !done) return failed(done.error());
      return Exit{ExitKind::kHandled};
    }
    case kHvMessageUnmappedGpa:
    case kHvMessageGpaIntercept: {
      HvX64MemoryInterceptMessage m;
      if (auto ok = payload_as(m); !ok) return failed(ok.error());
      auto done = handle_memory_intercept(header.message_type, m, *this, io, *emulator_);
      if (!done) return failed(done.error());
      return Exit{ExitKind::kHandled};
    }
    case kHvMessageX64Halt:
      return Exit{ExitKind::kHalt};
    case kHvMessageX64ApicEoi: {
      HvX64ApicEoiMessage m;
      if (auto ok = payload_as(m); !ok) return failed(ok.error());
      if (m.interrupt_vector > 0xff) {
        return fail(run_error(fmt::format("APIC EOI message for vector {}", m.interrupt_vector)));
      }
      // The hypervisor's LAPIC ended a level-triggered vector: the VMM's IOAPIC takes it.
      return Exit{ExitKind::kIoapicEoi, static_cast<uint8_t>(m.interrupt_vector)};
    }
    case kHvMessageUnrecoverableException:
      // A triple fault: on real hardware the chipset resets the machine.
      return Exit{ExitKind::kReset};
    case kHvMessageInvalidVpRegisterValue:
      return fail(
          run_error("the hypervisor refused to run the vCPU with the register state below "
                    "(INVALID_VP_REGISTER_VALUE)"));
    case kHvMessageUnsupportedFeature: {
      HvX64UnsupportedFeatureMessage m;
      if (auto ok = payload_as(m); !ok) return failed(ok.error());
      return fail(
          run_error(fmt::format("the guest used a feature the hypervisor does not support "
                                "(UNSUPPORTED_FEATURE code {}, parameter {:#x})",
                                m.feature_code, m.feature_parameter)));
    }
    default:
      return fail(run_error(
          fmt::format("MSHV_RUN_VP returned message type {:#x} ({}), which ferry does not handle",
                      header.message_type, name)));
  }
}

Error MshvVcpu::run_error(std::string what, Errc code) {
  return accel::vcpu_error(*this, std::move(what), code);
}

}  // namespace ferry::mshv

#include "kvm_oracle.h"

#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>

#include "ferry/base/checked.h"
#include "ferry/kvm/kvm_hypervisor.h"
#include "page_tables.h"

namespace ferry::x86::test {
namespace {

constexpr uint8_t kDonePort = 0x80;
// Exception handlers report on two ports: the error code (if the vector has one), then the
// vector, as the port it writes (kVectorPorts + vector), so a vector without an error code
// changes no general register and the single-step trap's registers can be read back. Real mode: the
// IVT points each vector at its own 8-byte stub from 0x500. Long and compatibility mode: a GDT, a
// TSS whose IST1 is a stack of its own (the variant's RSP is random) and an IDT of 32 interrupt
// gates to 16-byte stubs. The other protected modes have no IST, so their IDT holds task gates:
// each vector switches to a task of its own (a 32-bit TSS with the stub, a flat stack and the
// variant's CR3). The generator identity-maps these pages.
constexpr uint8_t kVectorPorts = 0xe0;
constexpr uint8_t kErrorCodePort = 0x82;
constexpr uint64_t kRealModeStubs = 0x500;
constexpr uint64_t kGdt = 0x1000, kTss = 0x2000, kIdt = 0x3000, kStubs = 0x4000;
constexpr uint64_t kLegacyGdt = 0x5000, kLegacyIdt = 0x5800, kVariantTss = 0x6000;
constexpr uint64_t kHandlerTsses = 0x6100, kTss32Bytes = 0x68;
constexpr uint64_t kExceptionStackTop = 0x8000;
constexpr uint16_t kCode64Selector = 0x08, kTssSelector = 0x20;
// The legacy GDT: flat 32-bit code and data, the variant's TSS, then one TSS per vector.
constexpr uint16_t kCode32Selector = 0x08, kData32Selector = 0x10, kVariantTssSelector = 0x18;
constexpr uint16_t kHandlerTssSelectors = 0x20;
constexpr unsigned kVectors = 32;
constexpr uint8_t kSingleStepVector = 1;
constexpr auto kRunDeadline = std::chrono::milliseconds(500);

// Records MMIO like FakePlatform and stops at the OUT that ends the snippet.
class RecordingIo : public accel::GuestIo {
 public:
  void mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept override {
    for (size_t i = 0; i < data.size(); ++i) data[i] = mmio_byte(gpa + i);
    mmio.push_back({false, gpa, {data.begin(), data.end()}});
  }
  void mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept override {
    mmio.push_back({true, gpa, {data.begin(), data.end()}});
  }
  void pio_read(uint16_t, std::span<uint8_t> data) noexcept override {
    std::fill(data.begin(), data.end(), 0xff);
  }
  void pio_write(uint16_t port, std::span<const uint8_t> data) noexcept override {
    if (port == kDonePort) done = true;
    if (port >= kVectorPorts && port < kVectorPorts + kVectors) vector = port - kVectorPorts;
    if (port == kErrorCodePort) {
      uint32_t code = 0;
      std::memcpy(&code, data.data(), std::min<size_t>(data.size(), sizeof code));
      error_code = code;
    }
  }

  std::vector<MmioAccess> mmio;
  bool done = false;
  std::optional<uint8_t> vector;
  std::optional<uint32_t> error_code;
};

void on_alarm(int) {}

// Arms a one-shot SIGALRM so a guest that runs away (no exits) cannot hang the test.
void arm_watchdog(std::chrono::microseconds after) {
  itimerval timer{};
  timer.it_value.tv_sec = after.count() / 1000000;
  timer.it_value.tv_usec = after.count() % 1000000;
  setitimer(ITIMER_REAL, &timer, nullptr);
}

bool has_error_code(unsigned vector) {
  return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17;
}

void put64(uint8_t* host, uint64_t gpa, uint64_t value) { std::memcpy(host + gpa, &value, 8); }

// A 32-bit TSS descriptor: base, limit 0x67, type 9 (available) or 0xb (busy), present.
uint64_t tss32_descriptor(uint64_t base, bool busy) {
  return (kTss32Bytes - 1) | (base & 0xffffff) << 16 | (busy ? 0x8bull : 0x89ull) << 40 |
         (base >> 24) << 56;
}

uint64_t handler_tss(unsigned vector) { return kHandlerTsses + vector * kTss32Bytes; }

void put32(uint8_t* host, uint64_t gpa, uint32_t value) { std::memcpy(host + gpa, &value, 4); }

// The legacy protected modes' IDT of task gates and the handler tasks (their CR3 is set per run).
void install_task_gates(uint8_t* host) {
  put64(host, kLegacyGdt, 0);
  put64(host, kLegacyGdt + kCode32Selector, 0x00cf9b000000ffff);
  put64(host, kLegacyGdt + kData32Selector, 0x00cf93000000ffff);
  for (unsigned vector = 0; vector < kVectors; ++vector) {
    const uint64_t tss = handler_tss(vector);
    std::memset(host + tss, 0, kTss32Bytes);
    put32(host, tss + 0x20, static_cast<uint32_t>(kStubs + vector * 16));  // EIP
    put32(host, tss + 0x24, 0x2);                                          // EFLAGS
    put32(host, tss + 0x38, static_cast<uint32_t>(kExceptionStackTop));    // ESP
    for (uint64_t field : {0x48, 0x50, 0x54, 0x58, 0x5c}) put32(host, tss + field, kData32Selector);
    put32(host, tss + 0x4c, kCode32Selector);
    put32(host, tss + 0x64, static_cast<uint32_t>(kTss32Bytes) << 16);  // no I/O bitmap
    // A task gate: the TSS selector, type 5, present.
    const uint16_t selector = static_cast<uint16_t>(kHandlerTssSelectors + vector * 8);
    put64(host, kLegacyIdt + vector * 8, uint64_t{selector} << 16 | 0x85ull << 40);
  }
}

// Before each run: every handler task available again (a task switch marks its TSS busy) and
// on the variant's page tables; the variant's own TSS busy, as the running task's is.
void arm_task_gates(uint8_t* host, uint64_t cr3) {
  put64(host, kLegacyGdt + kVariantTssSelector, tss32_descriptor(kVariantTss, true));
  std::memset(host + kVariantTss, 0, kTss32Bytes);
  for (unsigned vector = 0; vector < kVectors; ++vector) {
    put64(host, kLegacyGdt + kHandlerTssSelectors + vector * 8,
          tss32_descriptor(handler_tss(vector), false));
    put32(host, handler_tss(vector) + 0x1c, static_cast<uint32_t>(cr3));
    put32(host, handler_tss(vector) + 0x38, static_cast<uint32_t>(kExceptionStackTop));
  }
}

void install_exception_handlers(uint8_t* host) {
  for (unsigned vector = 0; vector < 256; ++vector) {
    // Real mode: out kVectorPorts + vector, al; jmp $.
    const uint64_t stub = kRealModeStubs + (vector % kVectors) * 8;
    const uint32_t far_pointer = static_cast<uint32_t>(stub);  // segment 0
    std::memcpy(host + vector * 4, &far_pointer, 4);
  }
  for (unsigned vector = 0; vector < kVectors; ++vector) {
    const auto port = static_cast<uint8_t>(kVectorPorts + vector);
    const uint8_t real[] = {0xe6, port, 0xeb, 0xfe};  // out port, al; jmp $
    std::memcpy(host + kRealModeStubs + vector * 8, real, sizeof real);
    // Long mode: [pop rax; mov dx, 0x82; out dx, eax;] out kVectorPorts + vector, al; jmp $.
    uint8_t* stub = host + kStubs + vector * 16;
    size_t at = 0;
    if (has_error_code(vector)) {
      const uint8_t report[] = {0x58, 0x66, 0xba, kErrorCodePort, 0x00, 0xef};
      std::memcpy(stub, report, sizeof report);
      at = sizeof report;
    }
    const uint8_t tail[] = {0xe6, port, 0xeb, 0xfe};
    std::memcpy(stub + at, tail, sizeof tail);
    // A 64-bit interrupt gate: offset, selector, IST 1, type 0xe, present.
    const uint64_t handler = kStubs + vector * 16;
    put64(host, kIdt + vector * 16,
          (handler & 0xffff) | uint64_t{kCode64Selector} << 16 | 1ull << 32 | 0x8eull << 40 |
              ((handler >> 16) & 0xffff) << 48);
    put64(host, kIdt + vector * 16 + 8, handler >> 32);
  }
  put64(host, kGdt, 0);
  put64(host, kGdt + kCode64Selector, 0x00af9b000000ffff);  // 64-bit code
  put64(host, kGdt + 0x10, 0x00cf93000000ffff);             // data
  put64(host, kGdt + 0x18, 0);
  // A 64-bit available TSS descriptor (16 bytes) for the 104-byte TSS with IST1.
  put64(host, kGdt + kTssSelector,
        0x67 | (kTss & 0xffffff) << 16 | 0x89ull << 40 | (kTss >> 24) << 56);
  put64(host, kGdt + kTssSelector + 8, kTss >> 32);
  std::memset(host + kTss, 0, 0x68);
  put64(host, kTss + 0x24, kExceptionStackTop);
  install_task_gates(host);
}

uint64_t get(const Mapping& memory, uint64_t gpa, unsigned bytes) {
  uint64_t value = 0;
  std::memcpy(&value, memory.data() + gpa, bytes);
  return value;
}

// The registers the single-step trap interrupted; `handler` are the handler's. Long mode: the
// frame on the IST stack. Protected mode: the variant's TSS, where the task switch saved them.
// Real mode: the frame below SS:SP (IP, CS, FLAGS), which place_real_mode_stack keeps in RAM.
Expected<accel::Regs> trapped_registers(const Mapping& memory, const accel::Regs& before,
                                        const accel::SpecialRegs& sregs,
                                        const accel::Regs& handler) {
  accel::Regs r = handler;
  if ((sregs.efer & accel::kEferLma) != 0) {
    const uint64_t frame = kExceptionStackTop - 40;  // RIP, CS, RFLAGS, RSP, SS
    r.rip = get(memory, frame, 8);
    r.rflags = get(memory, frame + 16, 8);
    r.rsp = get(memory, frame + 24, 8);
  } else if ((sregs.cr0 & accel::kCr0Pe) != 0) {
    // The TSS holds 32 bits of each; outside 64-bit mode the upper halves stay as they were.
    static constexpr uint64_t accel::Regs::*kSaved[] = {
        &accel::Regs::rip, &accel::Regs::rflags, &accel::Regs::rax, &accel::Regs::rcx,
        &accel::Regs::rdx, &accel::Regs::rbx,    &accel::Regs::rsp, &accel::Regs::rbp,
        &accel::Regs::rsi, &accel::Regs::rdi};
    for (size_t i = 0; i < std::size(kSaved); ++i) {
      r.*kSaved[i] =
          (before.*kSaved[i] & ~0xffffffffull) | get(memory, kVariantTss + 0x20 + 4 * i, 4);
    }
  } else {
    const uint64_t sp = handler.rsp & 0xffff;
    const uint64_t frame = sregs.ss.base + sp;
    if (!range_fits(frame, 6, memory.size())) {
      return fail(Errc::kInternal, "the real-mode #DB frame at {:#x} is outside RAM", frame);
    }
    r.rip = get(memory, frame, 2);
    r.rflags = (before.rflags & ~0xffffull) | get(memory, frame + 4, 2);
    r.rsp = (handler.rsp & ~0xffffull) | ((sp + 6) & 0xffff);
  }
  return r;
}

// CPUID leaf 0 names the vendor in EBX, EDX, ECX.
bool genuine_intel(std::span<const accel::CpuidEntry> cpuid) {
  for (const accel::CpuidEntry& e : cpuid) {
    if (e.function == 0) return e.ebx == 0x756e6547 && e.edx == 0x49656e69 && e.ecx == 0x6c65746e;
  }
  return false;
}

}  // namespace

Expected<std::unique_ptr<KvmOracle>> KvmOracle::create() {
  std::unique_ptr<KvmOracle> oracle(new KvmOracle());
  FERRY_ASSIGN(auto hypervisor, kvm::KvmHypervisor::open());
  oracle->hypervisor_ = std::move(hypervisor);
  FERRY_ASSIGN(oracle->vm_, oracle->hypervisor_->create_vm({.vcpus = 1}));
  FERRY_ASSIGN(oracle->memory_, Mapping::anonymous(kOracleRamSize));
  uint8_t* host = oracle->memory_.data();
  FERRY_TRY(oracle->vm_->map_memory(0, kLegacyHoleBegin, host, true));
  FERRY_TRY(oracle->vm_->map_memory(kLegacyHoleEnd, kOracleRamSize - kLegacyHoleEnd,
                                    host + kLegacyHoleEnd, true));
  FERRY_ASSIGN(oracle->vcpu_, oracle->vm_->create_vcpu(0));
  FERRY_ASSIGN(auto cpuid, oracle->hypervisor_->supported_cpuid());
  FERRY_TRY(oracle->vcpu_->set_cpuid(cpuid));
  // KVM's emulator applies the Intel REP quirk only to a guest whose CPUID says GenuineIntel
  // (emulate.c, string_registers_quirk), and the CPU under it is of the host's vendor.
  oracle->vendor_ = genuine_intel(cpuid) ? CpuVendor::kIntel : CpuVendor::kAmd;
  FERRY_ASSIGN(oracle->initial_sregs_, oracle->vcpu_->get_special_regs());
  install_exception_handlers(host);
  struct sigaction action {};
  action.sa_handler = on_alarm;  // no SA_RESTART: KVM_RUN returns EINTR
  sigaction(SIGALRM, &action, nullptr);
  return oracle;
}

Expected<void> KvmOracle::place_code(std::span<const uint8_t> code, uint64_t code_gpa) {
  if (!range_fits(code_gpa, code.size() + 2, memory_.size())) {
    return fail(Errc::kInvalidArgument, "code at {:#x} does not fit the oracle's RAM", code_gpa);
  }
  std::memcpy(memory_.data() + code_gpa, code.data(), code.size());
  memory_.data()[code_gpa + code.size()] = 0xe6;  // out imm8, al
  memory_.data()[code_gpa + code.size() + 1] = kDonePort;
  return {};
}

Expected<OracleResult> KvmOracle::run(std::span<const uint8_t> code, uint64_t code_gpa,
                                      const accel::Regs& regs, const accel::SpecialRegs& sregs,
                                      const std::optional<accel::FpuState>& fpu,
                                      unsigned max_exits) {
  FERRY_TRY(place_code(code, code_gpa));

  // The emulator never looks at these: they only route KVM's exceptions to the handlers.
  accel::SpecialRegs loaded = sregs;
  if ((sregs.efer & accel::kEferLma) != 0) {
    loaded.gdt = {kGdt, kTssSelector + 15};
    loaded.idt = {kIdt, kVectors * 16 - 1};
    loaded.tr = {
        .base = kTss, .limit = 0x67, .selector = kTssSelector, .type = 0xb, .present = true};
  } else if ((sregs.cr0 & accel::kCr0Pe) != 0) {
    arm_task_gates(memory_.data(), sregs.cr3);
    loaded.gdt = {kLegacyGdt, static_cast<uint16_t>(kHandlerTssSelectors + kVectors * 8 - 1)};
    loaded.idt = {kLegacyIdt, kVectors * 8 - 1};
    loaded.tr = {.base = kVariantTss,
                 .limit = kTss32Bytes - 1,
                 .selector = kVariantTssSelector,
                 .type = 0xb,
                 .present = true};
  }
  FERRY_TRY(vcpu_->set_special_regs(loaded));
  FERRY_TRY(vcpu_->set_regs(regs));
  if (fpu) FERRY_TRY(vcpu_->set_fpu(*fpu));

  RecordingIo io;
  OracleResult result;
  result.end = OracleResult::End::kTimeout;
  const auto deadline = std::chrono::steady_clock::now() + kRunDeadline;
  arm_watchdog(kRunDeadline);
  for (unsigned exits = 0; exits < max_exits && !io.done; ++exits) {
    auto ran = vcpu_->run(io);
    if (!ran) {
      arm_watchdog({});
      return tl::unexpected(ran.error());
    }
    const accel::Exit exit = *ran;
    if (exit.kind == accel::ExitKind::kReset || exit.kind == accel::ExitKind::kShutdown ||
        io.vector) {
      result.end = OracleResult::End::kFault;
      result.vector = io.vector;
      result.error_code = io.error_code;
      break;
    }
    if (exit.kind == accel::ExitKind::kInterrupted && std::chrono::steady_clock::now() > deadline) {
      break;
    }
    if (exit.kind != accel::ExitKind::kHandled && exit.kind != accel::ExitKind::kInterrupted) {
      return fail(Errc::kInternal, "the oracle vCPU stopped with exit kind {}",
                  static_cast<int>(exit.kind));
    }
  }
  arm_watchdog({});
  // A standard KVM advances RIP past the last OUT (or MMIO access) only on re-entry.
  FERRY_TRY(vcpu_->complete_pending_io(io));
  if (io.done) result.end = OracleResult::End::kCompleted;
  FERRY_ASSIGN(result.regs, vcpu_->get_regs());
  if (io.done) result.regs.rip -= 2;  // back over the OUT
  FERRY_ASSIGN(result.fpu, vcpu_->get_fpu());
  if (result.end == OracleResult::End::kFault) {
    FERRY_ASSIGN(const accel::SpecialRegs after, vcpu_->get_special_regs());
    result.cr2 = after.cr2;
  }
  if (result.vector == kSingleStepVector) {
    FERRY_ASSIGN(result.trapped_regs, trapped_registers(memory_, regs, sregs, result.regs));
  }
  result.mmio = std::move(io.mmio);
  return result;
}

std::vector<MmioAccess> in_kvm_pieces(std::span<const MmioAccess> accesses) {
  std::vector<MmioAccess> out;
  for (const MmioAccess& a : accesses) {
    for (size_t done = 0; done < a.data.size(); done += 8) {
      const size_t n = std::min<size_t>(8, a.data.size() - done);
      out.push_back({a.write,
                     a.gpa + done,
                     {a.data.begin() + static_cast<std::ptrdiff_t>(done),
                      a.data.begin() + static_cast<std::ptrdiff_t>(done + n)}});
    }
  }
  return out;
}

}  // namespace ferry::x86::test

// libFuzzer target for lib/x86: random CPU states, instruction bytes, page tables and MMIO data.
// Beyond what ASan and UBSan catch, it checks the Platform contract: every RAM and MMIO access
// lies within one 4 KiB page, MMIO accesses are 1-16 bytes, RAM accesses stay inside the RAM
// buffer, and a completed instruction is at most 15 bytes long. Each input runs twice on one
// Emulator from the same state and memory: the second run hits the decode cache and must end
// exactly like the first.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "ferry/x86/emulator.h"

namespace {

using ferry::x86::CpuState;

constexpr size_t kRamSize = 64 * 1024;  // page tables and code come from the input, wrapped

[[noreturn]] void contract_violation(const char* what, uint64_t gpa, size_t size) {
  std::fprintf(stderr, "platform contract violated: %s (gpa %#llx, %zu bytes)\n", what,
               static_cast<unsigned long long>(gpa), size);
  std::abort();
}

void check_piece(uint64_t gpa, size_t size, size_t max) {
  if (size == 0 || size > max) contract_violation("access size", gpa, size);
  if ((gpa >> 12) != ((gpa + size - 1) >> 12)) contract_violation("crosses a page", gpa, size);
}

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint64_t take(unsigned bytes) {
    uint64_t value = 0;
    for (unsigned i = 0; i < bytes; ++i) {
      if (at_ < size_) value |= uint64_t{data_[at_]} << (8 * i);
      ++at_;
    }
    return value;
  }
  std::span<const uint8_t> rest() const {
    return at_ < size_ ? std::span(data_ + at_, size_ - at_) : std::span<const uint8_t>();
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

// RAM in [0, kRamSize); everything above is MMIO answering with bytes derived from the input.
class FuzzPlatform : public ferry::x86::Platform {
 public:
  FuzzPlatform(std::vector<uint8_t>* ram, uint64_t mmio_seed) : ram_(ram), seed_(mmio_seed) {}
  void use_ram(std::vector<uint8_t>* ram) { ram_ = ram; }

  bool read_ram(uint64_t gpa, std::span<uint8_t> data) noexcept override {
    check_piece(gpa, data.size(), 4096);
    if (gpa >= ram_->size() || data.size() > ram_->size() - gpa) return false;
    std::memcpy(data.data(), ram_->data() + gpa, data.size());
    return true;
  }
  bool write_ram(uint64_t gpa, std::span<const uint8_t> data) noexcept override {
    check_piece(gpa, data.size(), 4096);
    if (gpa >= ram_->size() || data.size() > ram_->size() - gpa) return false;
    std::memcpy(ram_->data() + gpa, data.data(), data.size());
    return true;
  }
  void mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept override {
    check_piece(gpa, data.size(), 16);
    for (size_t i = 0; i < data.size(); ++i) {
      data[i] = static_cast<uint8_t>((gpa + i) * 0x9e3779b97f4a7c15ull >> 56 ^ seed_);
    }
  }
  void mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept override {
    check_piece(gpa, data.size(), 16);
    volatile uint8_t sink = 0;
    for (uint8_t b : data) sink = sink ^ b;  // touch every byte the emulator handed over
  }

 private:
  std::vector<uint8_t>* ram_;
  uint64_t seed_;
};

// A backend-style translator: maps every page to a page chosen from the linear address.
class FuzzTranslator : public ferry::x86::Translator {
 public:
  explicit FuzzTranslator(uint64_t salt) : salt_(salt) {}
  ferry::Expected<ferry::x86::Translation> translate(const CpuState&, uint64_t linear,
                                                     ferry::x86::AccessIntent intent) override {
    const uint64_t page = (linear >> 12) * 0x2545f4914f6cdd1dull ^ salt_;
    if ((page & 0xf) == 0) {
      return ferry::x86::Translation{
          .ok = false, .gpa = 0, .error_code = intent.write ? ferry::x86::kPfWrite : 0u};
    }
    // Half the pages land in RAM, the rest anywhere in a 52-bit physical space.
    const uint64_t frame = (page & 0x10) != 0 ? (page >> 8) % (kRamSize >> 12) : page >> 12;
    return ferry::x86::Translation{.ok = true,
                                   .gpa = (frame << 12 | (linear & 0xfff)) & 0x000fffffffffffffull,
                                   .error_code = 0};
  }

 private:
  uint64_t salt_;
};

ferry::accel::Segment segment(Reader& in, bool long_mode_code) {
  ferry::accel::Segment s;
  s.base = in.take(4);
  s.limit = static_cast<uint32_t>(in.take(4));
  const uint64_t bits = in.take(2);
  s.type = bits & 0xf;
  s.present = (bits & 0x10) == 0;  // usually present
  s.s = true;
  s.db = (bits & 0x20) != 0;
  s.l = long_mode_code;
  s.g = (bits & 0x40) != 0;
  s.unusable = (bits & 0x80) != 0;
  s.dpl = (bits >> 8) & 3;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in(data, size);
  const uint64_t mode = in.take(1) % 8;
  const uint64_t options = in.take(1);
  CpuState state;
  uint64_t* gprs[] = {&state.regs.rax, &state.regs.rcx, &state.regs.rdx, &state.regs.rbx,
                      &state.regs.rsp, &state.regs.rbp, &state.regs.rsi, &state.regs.rdi,
                      &state.regs.r8,  &state.regs.r9,  &state.regs.r10, &state.regs.r11,
                      &state.regs.r12, &state.regs.r13, &state.regs.r14, &state.regs.r15};
  for (uint64_t* g : gprs) *g = in.take(8);
  state.regs.rflags = (in.take(4) & 0x3f0fd5) | 0x2;
  state.regs.rip = in.take(8);

  const bool long_mode = mode == 5 || mode == 6 || mode == 7;
  ferry::accel::SpecialRegs& s = state.sregs;
  s.cs = segment(in, long_mode && mode != 7);
  s.cs.type |= 0x8;  // a code segment
  s.ds = segment(in, false);
  s.es = segment(in, false);
  s.ss = segment(in, false);
  s.fs = segment(in, false);
  s.gs = segment(in, false);
  s.fs.base |= in.take(4) << 32;
  s.gs.base |= in.take(4) << 32;
  s.cr3 = in.take(4) % kRamSize;
  s.cr0 = mode == 0 ? 0 : ferry::accel::kCr0Pe;
  if (mode >= 3) s.cr0 |= ferry::accel::kCr0Pg;
  if ((options & 0x04) != 0) s.cr0 |= ferry::x86::kCr0Wp;
  if ((options & 0x80) != 0) s.cr0 |= ferry::x86::kCr0Ts;
  if ((options & 0x02) != 0) s.cr4 |= ferry::accel::kCr4Osfxsr;
  if ((options & 0x08) != 0) s.cr4 |= ferry::x86::kCr4Smap;
  if ((options & 0x10) != 0) s.cr4 |= ferry::x86::kCr4Smep;
  if (mode == 3) s.cr4 |= ferry::x86::kCr4Pse;
  if (mode == 4 || long_mode) s.cr4 |= ferry::accel::kCr4Pae;
  if (mode == 6) s.cr4 |= ferry::x86::kCr4La57;
  if (long_mode) s.efer = ferry::accel::kEferLme | ferry::accel::kEferLma;
  if ((options & 0x20) != 0) s.efer |= ferry::x86::kEferNxe;
  if (mode == 1) s.cs.db = false;
  if (mode == 2) s.cs.db = true;
  if ((options & 0x40) != 0) s.ss.dpl = 3;

  const size_t given = in.take(1) % 17;
  uint8_t bytes[16];
  for (size_t i = 0; i < 16; ++i) bytes[i] = static_cast<uint8_t>(in.take(1));
  if ((options & 0x02) != 0) {
    state.fpu.emplace();
    for (auto& x : state.fpu->xmm) std::memset(x.data(), static_cast<int>(in.take(1)), 16);
  }

  std::vector<uint8_t> ram(kRamSize, 0);
  const std::span<const uint8_t> image = in.rest();
  for (size_t at = 0; !image.empty() && at < ram.size(); at += image.size()) {
    std::memcpy(ram.data() + at, image.data(), std::min(image.size(), ram.size() - at));
  }

  std::vector<uint8_t> ram_again = ram;
  FuzzPlatform platform(&ram, options);
  FuzzTranslator translator(state.regs.rip);
  ferry::x86::EmulatorOptions emulator_options;
  emulator_options.max_rep_iterations = 64;
  emulator_options.vendor =
      (options & 1) != 0 ? ferry::x86::CpuVendor::kAmd : ferry::x86::CpuVendor::kIntel;
  const bool own_translator = (options & 0x01) != 0;
  ferry::x86::Emulator emulator = own_translator
                                      ? ferry::x86::Emulator(platform, translator, emulator_options)
                                      : ferry::x86::Emulator(platform, emulator_options);
  const CpuState initial = state;
  auto outcome = emulator.emulate(state, std::span(bytes, given));
  if (outcome && outcome->length > 15) std::abort();
  if (outcome && outcome->kind == ferry::x86::Outcome::Kind::kNeedsFpu && state.fpu) std::abort();

  // The same instruction again from the same state and memory, now through the decode cache:
  // everything must come out the same.
  CpuState again = initial;
  platform.use_ram(&ram_again);
  auto repeat = emulator.emulate(again, std::span(bytes, given));
  if (outcome.has_value() != repeat.has_value()) std::abort();
  if (outcome) {
    if (outcome->kind != repeat->kind || outcome->length != repeat->length ||
        outcome->xmm_written != repeat->xmm_written ||
        outcome->fault.vector != repeat->fault.vector ||
        outcome->fault.error_code != repeat->fault.error_code ||
        outcome->fault.cr2 != repeat->fault.cr2) {
      std::abort();
    }
    if (std::memcmp(&state.regs, &again.regs, sizeof state.regs) != 0) std::abort();
    if (state.fpu.has_value() != again.fpu.has_value()) std::abort();
    if (state.fpu && state.fpu->xmm != again.fpu->xmm) std::abort();
    if (ram != ram_again) std::abort();
  } else if (outcome.error().message() != repeat.error().message()) {
    std::abort();
  }
  return 0;
}

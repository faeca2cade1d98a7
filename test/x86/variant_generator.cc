#include "variant_generator.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "fake_platform.h"
#include "ferry/x86/cpu_state.h"
#include "page_tables.h"

namespace ferry::x86::test {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kRflagsIf = 1ull << 9;  // no interrupt is pending in the oracle: only kept
constexpr uint64_t kCodePage = 0x10000;
// The data window: RAM | MMIO | MMIO (| RAM with paging), as guest-physical pages.
constexpr uint64_t kFlatWindow = 0x9f000;  // no paging: linear = physical, the hole follows
constexpr uint64_t kFlatWindowGpas[] = {0x9f000, 0xa0000, 0xa1000};
constexpr uint64_t kPagedWindowGpas[] = {0x300000, 0xe0001000, 0xa5000, 0x301000};
constexpr uint64_t kLowWindow = 0x40000000;
constexpr uint64_t kHighWindow = 0xffff800012340000;  // 64-bit mode only
constexpr uint64_t kRamPages[] = {0x9f000, 0x300000, 0x301000};
// Where the constructor builds each paging format's tables: [begin, end) guest-physical.
constexpr std::pair<uint64_t, uint64_t> kLegacyTablePool{0x100000, 0x140000};
constexpr std::pair<uint64_t, uint64_t> kPaeTablePool{0x140000, 0x180000};
constexpr std::pair<uint64_t, uint64_t> kLongTablePool{0x180000, 0x1c0000};

// RAM a real-mode fault may push its frame (FLAGS, CS, IP) to: off the oracle's handlers and
// descriptor tables below 0x8000, the code page, the data window and the legacy hole.
constexpr std::pair<uint64_t, uint64_t> kRealModeStackRam[] = {
    {0x8000, kCodePage}, {kCodePage + kPage, kFlatWindow}, {kLegacyHoleEnd, 0x100000}};
// SS bases in [kNoStackBelow, kNoStackAbove] leave SS:SP no such RAM within 64 KiB.
constexpr uint64_t kNoStackBelow = 0x9f000, kNoStackAbove = 0xb0000;
constexpr unsigned kRealModeFrame = 6;

enum SegIndex : int { kEs, kCs, kSs, kDs, kFs, kGs };
constexpr uint8_t kSegmentPrefix[] = {0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65};
constexpr unsigned kStringMargin = 64;  // REP strings move up to 4 elements of 8 bytes either way

accel::Segment& segment(accel::SpecialRegs& s, int index) {
  accel::Segment* segments[] = {&s.es, &s.cs, &s.ss, &s.ds, &s.fs, &s.gs};
  return *segments[index];
}

accel::Segment data_segment(uint64_t base, bool big) {
  return {.base = base,
          .limit = big ? 0xffffffffu : 0xffffu,
          .selector = 0x18,
          .type = 0x3,
          .dpl = 0,
          .present = true,
          .s = true,
          .db = big,
          .l = false,
          .g = big};
}

uint64_t mask_bits(unsigned bits) { return bits >= 64 ? ~0ull : (1ull << bits) - 1; }

void put(std::vector<uint8_t>& out, uint64_t value, unsigned bytes) {
  for (unsigned i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

}  // namespace

const char* mode_name(TestMode mode) {
  switch (mode) {
    case TestMode::kReal:
      return "real";
    case TestMode::kProt16:
      return "prot16";
    case TestMode::kProt32:
      return "prot32";
    case TestMode::kProt32Paging:
      return "prot32-paging";
    case TestMode::kProt32Pae:
      return "prot32-pae";
    case TestMode::kCompat32:
      return "compat32";
    case TestMode::kLong:
      return "long";
  }
  return "?";
}

std::string describe(const CpuDeviations& cpu) {
  std::string out;
  auto add = [&](bool departs, const char* what) {
    if (departs) out += out.empty() ? what : std::string("; ") + what;
  };
  add(cpu.code_segment_writes, "a write through CS completes (SDM: #GP)");
  add(cpu.rmw_faults_as_reads, "a read-modify-write's #PF has no W bit (SDM: it has)");
  add(cpu.noncanonical_stack_gp, "a non-canonical access through SS raises #GP (SDM: #SS)");
  return out;
}

VariantGenerator::VariantGenerator(uint64_t seed, std::span<uint8_t> ram,
                                   const accel::SpecialRegs& initial, CpuDeviations cpu)
    : rng_(seed), extra_rng_(~seed), cpu_(cpu), ram_(ram), initial_(initial) {
  PageTables legacy(ram, PagingFormat::k32Bit, kLegacyTablePool.first, kLegacyTablePool.second);
  PageTables pae(ram, PagingFormat::kPae, kPaeTablePool.first, kPaeTablePool.second);
  PageTables long_mode(ram, PagingFormat::kLevel4, kLongTablePool.first, kLongTablePool.second);
  for (PageTables* t : {&legacy, &pae, &long_mode}) {
    t->map(kCodePage, kCodePage);
    for (unsigned i = 0; i < 4; ++i) t->map(kLowWindow + i * kPage, kPagedWindowGpas[i]);
  }
  for (unsigned i = 0; i < 4; ++i) long_mode.map(kHighWindow + i * kPage, kPagedWindowGpas[i]);
  // The oracle's exception handlers, descriptor tables, TSSes and exception stack.
  for (PageTables* t : {&legacy, &pae, &long_mode}) {
    for (uint64_t page = 0; page < 0x8000; page += kPage) t->map(page, page);
  }
  cr3_32bit_ = legacy.root();
  cr3_pae_ = pae.root();
  cr3_long_ = long_mode.root();
  std::memcpy(pae_pdptes_.data(), ram.data() + cr3_pae_, pae_pdptes_.size());
}

uint64_t VariantGenerator::pick_target(unsigned size, unsigned alignment, unsigned margin) {
  const uint64_t page = random(window_pages_);
  uint64_t offset;
  if (page + 1 < window_pages_ && size > 1 && chance(3)) {
    offset = kPage - 1 - random(size - 1);  // straddles into the next page
  } else {
    offset = margin + random(kPage - size - 2 * margin);
  }
  uint64_t linear = window_ + page * kPage + offset;
  if (alignment > 1) linear &= ~uint64_t{alignment - 1};
  if (linear < window_ + margin) linear += alignment > 1 ? alignment : margin;
  return linear;
}

bool VariantGenerator::in_mmio(uint64_t linear, unsigned size) const {
  const bool flat = window_ == kFlatWindow;
  for (uint64_t at = linear; at < linear + size; at = (at | (kPage - 1)) + 1) {
    const uint64_t page = (at - window_) / kPage;
    if (at < window_ || page >= window_pages_) return false;
    const uint64_t gpa = (flat ? kFlatWindowGpas : kPagedWindowGpas)[page];
    if (std::find(std::begin(kRamPages), std::end(kRamPages), gpa) != std::end(kRamPages)) {
      return false;
    }
  }
  return true;
}

uint64_t VariantGenerator::memory_value(uint64_t linear, unsigned size) const {
  const bool flat = window_ == kFlatWindow;
  uint64_t value = 0;
  for (unsigned i = 0; i < size; ++i) {
    const uint64_t page = (linear + i - window_) / kPage;
    if (page >= window_pages_) return 0;
    const uint64_t gpa = (flat ? kFlatWindowGpas : kPagedWindowGpas)[page] + (linear + i) % kPage;
    const bool ram = std::find(std::begin(kRamPages), std::end(kRamPages), gpa & ~(kPage - 1)) !=
                     std::end(kRamPages);
    value |= uint64_t{ram ? ram_[gpa] : mmio_byte(gpa)} << (8 * i);
  }
  return value;
}

void VariantGenerator::set_segment_base(Variant& v, int seg, uint64_t target,
                                        unsigned address_bits) {
  accel::Segment& s = segment(v.sregs, seg);
  if (v.mode == TestMode::kLong) return;
  if (seg == kCs) return;  // the code segment keeps its base
  if (v.mode == TestMode::kReal) {
    // SS also takes a fault's frame (place_real_mode_stack): keep its base below the window.
    const uint64_t least = seg == kSs && target >= kNoStackBelow ? target - kNoStackBelow + 16 : 0;
    const uint64_t selector = (target - least - random(0xf000 - least)) >> 4;
    s.selector = static_cast<uint16_t>(selector);
    s.base = selector << 4;
    return;
  }
  // With 16-bit addressing the offset must stay below 64 KiB; otherwise any base will do.
  s.base = address_bits == 16 ? (target - random(0xf000)) & 0xffffffff : random64() & 0xffffffff;
}

void VariantGenerator::set_up_state(Variant& v, const Template& form) {
  const TestMode mode = v.mode;
  const bool long_mode = mode == TestMode::kLong;
  const bool compat = mode == TestMode::kCompat32;
  const bool paged =
      mode == TestMode::kProt32Paging || mode == TestMode::kProt32Pae || long_mode || compat;
  const bool sixteen = mode == TestMode::kReal || mode == TestMode::kProt16;
  window_pages_ = paged ? 4 : 3;
  window_ = !paged ? kFlatWindow : (long_mode && chance(2)) ? kHighWindow : kLowWindow;
  for (uint64_t gpa : kRamPages) {
    for (uint64_t i = 0; i < kPage; ++i) ram_[gpa + i] = static_cast<uint8_t>(random64());
  }
  v.data_pages.assign(std::begin(kRamPages), std::end(kRamPages));
  v.table_pages.clear();
  if (paged) {
    const auto [begin, end] = mode == TestMode::kProt32Paging ? kLegacyTablePool
                              : mode == TestMode::kProt32Pae  ? kPaeTablePool
                                                              : kLongTablePool;
    for (uint64_t page = begin; page < end; page += kPage) v.table_pages.push_back(page);
  }

  // Control and segment registers.
  accel::SpecialRegs& s = v.sregs;
  s = initial_;
  s.cr0 = accel::kCr0Et | accel::kCr0Ne | kCr0Wp;
  s.cr4 = accel::kCr4Osfxsr | accel::kCr4Osxmmexcpt;
  s.efer = 0;
  if (mode == TestMode::kReal) {
    s.cs = {.base = kCodePage,
            .limit = 0xffff,
            .selector = kCodePage >> 4,
            .type = 0xb,
            .present = true,
            .s = true};
    for (int seg : {kEs, kSs, kDs, kFs, kGs}) {
      uint16_t selector = static_cast<uint16_t>(random(0x10000));
      // An SS base from which no SP reaches RAM for a fault's frame (place_real_mode_stack).
      while (seg == kSs && selector >= kNoStackBelow >> 4 && selector <= kNoStackAbove >> 4) {
        selector = static_cast<uint16_t>(random(0x10000));
      }
      segment(s, seg) = {.base = uint64_t{selector} << 4,
                         .limit = 0xffff,
                         .selector = selector,
                         .type = 0x3,
                         .present = true,
                         .s = true};
    }
  } else {
    s.cr0 |= accel::kCr0Pe;
    s.cs = {.base = mode == TestMode::kProt16 ? kCodePage : 0,
            .limit = 0xffffffff,
            .selector = 0x08,
            .type = 0xb,
            .dpl = 0,
            .present = true,
            .s = true,
            .db = !sixteen && !long_mode,
            .l = long_mode,
            .g = true};
    for (int seg : {kEs, kSs, kDs, kFs, kGs}) {
      segment(s, seg) = data_segment(long_mode ? 0 : random64() & 0xffffffff, true);
    }
    if (paged) s.cr0 |= accel::kCr0Pg;
    if (mode == TestMode::kProt32Paging) s.cr3 = cr3_32bit_;
    if (mode == TestMode::kProt32Pae) {
      s.cr3 = cr3_pae_;
      s.cr4 |= accel::kCr4Pae;
      // QEMU's TCG sets the accessed bit of the PDPTEs it walks, where bit 5 is reserved (SDM
      // table 4-8): each variant starts from the PDPTEs as the constructor wrote them.
      std::memcpy(ram_.data() + cr3_pae_, pae_pdptes_.data(), pae_pdptes_.size());
    }
    if (long_mode || compat) {
      s.cr3 = cr3_long_;
      s.cr4 |= accel::kCr4Pae;
      s.efer = accel::kEferLme | accel::kEferLma | kEferNxe;
    }
    if (long_mode) {
      s.fs.base = random(2) ? random64() & 0x00007fffffffffff : 0;
      s.gs.base = random(2) ? random64() | 0xffff800000000000 : 0;
    }
  }

  // General registers, flags, XMM.
  accel::Regs& r = v.regs;
  for (unsigned i = 0; i < 16; ++i) gpr(v, i) = random_register(v);
  r.rflags = 0x2 | (random64() & kRflagsArith) | (extra_rng_() & (kRflagsIf | kRflagsAc));
  // One in four traps after the instruction (not string forms: the CPU traps after each of a
  // REP's iterations, which the harness does not follow).
  const bool single_step = extra_rng_() % 4 == 0;
  if (single_step && form.form != Form::kString) r.rflags |= kRflagsTf;
  if (form.form == Form::kString && chance(2)) r.rflags |= kRflagsDf;
  const uint64_t code_offset = random(0xf00);
  v.code_gpa = kCodePage + code_offset;
  r.rip = sixteen ? code_offset : v.code_gpa;
  if (form.xmm) {
    v.fpu.emplace();
    for (auto& x : v.fpu->xmm) {
      for (auto& byte : x) byte = static_cast<uint8_t>(random64());
    }
  }
  v.flags_compared = ~form.undefined_flags & ~(1ull << 16);
}

VariantGenerator::Encoding VariantGenerator::choose_prefixes(const Variant& v,
                                                             const Template& form) {
  const bool long_mode = v.mode == TestMode::kLong;
  const bool sixteen = v.mode == TestMode::kReal || v.mode == TestMode::kProt16;
  Encoding e;
  e.operand_bits = long_mode ? 32 : sixteen ? 16 : 32;
  e.address_bits = long_mode ? 64 : sixteen ? 16 : 32;
  if (form.width == Width::kV && chance(3)) {
    e.prefixes.push_back(0x66);
    e.operand_bits = e.operand_bits == 16 ? 32 : 16;
  }
  if (long_mode && (form.width == Width::kV || form.width == Width::kY) && chance(3)) {
    e.rex_w = true;
    e.operand_bits = 64;
  }
  if (form.width == Width::kY && !e.rex_w) e.operand_bits = 32;
  if (form.width == Width::kByte) e.operand_bits = 8;
  if (form.width == Width::kWord) e.operand_bits = 16;
  if (!(long_mode && window_ == kHighWindow) && chance(4)) {
    e.prefixes.push_back(0x67);
    e.address_bits = long_mode ? 32 : e.address_bits == 32 ? 16 : 32;
  }
  if (chance(3)) {
    e.override_seg = static_cast<int>(random(6));
    // CS keeps its base (the code is there), so only flat 32-bit addressing can reach the window
    // through it; string sources stay off ES, which the destination rebases. Not in
    // compatibility mode: kvm-pvm runs it with segments of its own, so a write through CS
    // page-faults there instead of raising #GP as the SDM (and lib/x86) say.
    const bool cs_reachable =
        long_mode || (!sixteen && e.address_bits == 32 && v.mode != TestMode::kCompat32);
    if ((e.override_seg == kCs && !cs_reachable) ||
        (e.override_seg == kEs && form.form == Form::kString)) {
      e.override_seg = kDs;
    }
    e.prefixes.push_back(kSegmentPrefix[e.override_seg]);
  }
  if (form.lockable && chance(4)) e.prefixes.push_back(0xf0);
  e.rep = form.form == Form::kString && chance(2);
  if (e.rep) e.prefixes.push_back(chance(8) ? 0xf2 : 0xf3);
  std::shuffle(e.prefixes.begin(), e.prefixes.end(), rng_);
  if (form.mandatory_prefix != 0) e.prefixes.push_back(form.mandatory_prefix);
  e.address_mask = mask_bits(e.address_bits);
  e.size = form.mem_bytes != 0 ? form.mem_bytes : e.operand_bits / 8;
  e.reg = static_cast<unsigned>(random(long_mode ? 16 : 8));
  return e;
}

uint64_t VariantGenerator::offset_of(Variant& v, const Encoding& e, int seg) {
  if (v.mode == TestMode::kLong) {
    if (seg != kFs && seg != kGs) return e.target & e.address_mask;
    // With 32-bit addressing the offset is truncated: put the base just below the target.
    if (e.address_bits == 32) segment(v.sregs, seg).base = e.target - random(0x10000000);
    return (e.target - segment(v.sregs, seg).base) & e.address_mask;
  }
  set_segment_base(v, seg, e.target, e.address_bits);
  return (e.target - segment(v.sregs, seg).base) & 0xffffffff & e.address_mask;
}

uint64_t& VariantGenerator::gpr(Variant& v, unsigned number) {
  accel::Regs& r = v.regs;
  uint64_t* gprs[16] = {&r.rax, &r.rcx, &r.rdx, &r.rbx, &r.rsp, &r.rbp, &r.rsi, &r.rdi,
                        &r.r8,  &r.r9,  &r.r10, &r.r11, &r.r12, &r.r13, &r.r14, &r.r15};
  return *gprs[number & 15];
}

uint64_t VariantGenerator::random_register(const Variant& v) {
  return v.mode == TestMode::kLong ? random64() : random64() & 0xffffffff;
}

void VariantGenerator::encode_modrm(Variant& v, const Template& form, Encoding& e) {
  const bool long_mode = v.mode == TestMode::kLong;
  uint8_t modrm = 0;
  std::vector<uint8_t> tail;
  int default_seg = kDs;
  std::vector<std::pair<unsigned, uint64_t>> addends;  // (register, scale)
  int64_t disp = 0;
  unsigned disp_bytes = 0;
  const unsigned reg = e.reg;
  if (e.address_bits == 16) {
    const unsigned rm = static_cast<unsigned>(random(8));
    unsigned mod = static_cast<unsigned>(random(3));
    static constexpr int kFirst[] = {3, 3, 5, 5, 6, 7, 5, 3};  // BX BX BP BP SI DI BP BX
    static constexpr int kSecond[] = {6, 7, 6, 7, -1, -1, -1, -1};
    if (rm == 6 && mod == 0) {
      disp_bytes = 2;
    } else {
      addends.push_back({static_cast<unsigned>(kFirst[rm]), 1});
      if (kSecond[rm] >= 0) addends.push_back({static_cast<unsigned>(kSecond[rm]), 1});
      disp_bytes = mod == 0 ? 0 : mod == 1 ? 1 : 2;
      if (rm == 2 || rm == 3 || rm == 6) default_seg = kSs;
    }
    modrm = static_cast<uint8_t>(mod << 6 | (reg & 7) << 3 | rm);
  } else {
    const unsigned regs = long_mode ? 16 : 8;
    unsigned choice = static_cast<unsigned>(random(long_mode ? 6 : 5));
    // Absolute and RIP-relative forms reach only +-2 GiB in 64-bit mode.
    const bool near = e.target < 0x80000000 && e.override_seg != kFs && e.override_seg != kGs;
    if (long_mode && e.address_bits == 64 && choice >= 4 && !near) {
      choice = static_cast<unsigned>(random(4));
    }
    unsigned base = static_cast<unsigned>(random(regs));
    unsigned index = static_cast<unsigned>(random(regs));
    while (index == 4 || index == base) index = static_cast<unsigned>(random(regs));
    const unsigned scale_log = static_cast<unsigned>(random(4));
    if (choice == 4) {  // [disp32] alone (SIB without base and index in 64-bit mode)
      disp_bytes = 4;
      modrm = static_cast<uint8_t>((reg & 7) << 3 | (long_mode ? 4 : 5));
      if (long_mode) tail.push_back(0x25);
    } else if (choice == 5) {  // RIP-relative
      disp_bytes = 4;
      modrm = static_cast<uint8_t>((reg & 7) << 3 | 5);
    } else {
      const unsigned mod = choice < 3 ? choice : static_cast<unsigned>(random(3));
      if (mod == 0 && (base & 7) == 5) base ^= 1;  // mod 0 with base 5 means "no base"
      // In real mode SP places a fault's frame (place_real_mode_stack), so it addresses nothing.
      if (v.mode == TestMode::kReal && base == 4) base = mod == 0 ? 3 : 5;
      if (index == base) index = (base + 1) % regs == 4 ? (base + 2) % regs : (base + 1) % regs;
      disp_bytes = mod == 0 ? 0 : mod == 1 ? 1 : 4;
      addends.push_back({base, 1});
      if ((base & 7) == 4 || (base & 7) == 5) default_seg = (base & 8) ? kDs : kSs;
      if (choice == 3 || (base & 7) == 4) {
        uint8_t sib = static_cast<uint8_t>((base & 7));
        if (choice == 3) {
          addends.push_back({index, 1ull << scale_log});
          sib |= static_cast<uint8_t>(scale_log << 6 | (index & 7) << 3);
          if (index & 8) e.rex |= 0x42;
        } else {
          sib |= 4 << 3;  // no index
        }
        modrm = static_cast<uint8_t>(mod << 6 | (reg & 7) << 3 | 4);
        tail.push_back(sib);
      } else {
        modrm = static_cast<uint8_t>(mod << 6 | (reg & 7) << 3 | (base & 7));
      }
      if (base & 8) e.rex |= 0x41;
    }
  }
  const bool rip_relative = e.address_bits != 16 && long_mode && (modrm & 0xc7) == 5;
  const uint64_t ea = offset_of(v, e, e.override_seg >= 0 ? e.override_seg : default_seg);
  if (disp_bytes == 1) disp = static_cast<int8_t>(random(256));
  if (disp_bytes == 2) disp = static_cast<int16_t>(random(65536));
  if (disp_bytes == 4) disp = static_cast<int32_t>(random64());
  if (addends.empty() && !rip_relative) disp = static_cast<int64_t>(ea);  // absolute
  if (!addends.empty()) {
    // Random values for all but the first addend, which makes the sum come out at `ea`.
    uint64_t rest = static_cast<uint64_t>(disp);
    for (size_t i = 1; i < addends.size(); ++i) {
      const uint64_t value = long_mode ? random64() >> random(64) : random64() & 0xffffffff;
      gpr(v, addends[i].first) = value;
      rest += value * addends[i].second;
    }
    const uint64_t first = (ea - rest) & e.address_mask;
    gpr(v, addends[0].first) = (random_register(v) & ~e.address_mask) | first;
  }
  const bool rax_addresses = std::any_of(addends.begin(), addends.end(),
                                         [](const auto& addend) { return addend.first == 0; });
  if (std::strncmp(form.name, "cmpxchg", 7) == 0 && chance(2) && !rax_addresses) {
    // Make the compare succeed: the accumulator holds what memory holds (unless it is part of
    // the address, which the new value would move).
    v.regs.rax = (v.regs.rax & ~mask_bits(e.size * 8)) | memory_value(e.target, e.size);
  }
  e.body.push_back(modrm);
  e.body.insert(e.body.end(), tail.begin(), tail.end());
  if (rip_relative) {
    e.rip_disp_at = e.body.size();
    e.rip_relative_offset = ea;
  }
  put(e.body, static_cast<uint64_t>(disp), disp_bytes);
  if (form.bit_offset) {
    // The bit offset register must not be an address register; its value stays within +-2
    // operands of the address. Nor SP in real mode: place_real_mode_stack sets it afterwards,
    // which would send the access out of the window's pages.
    auto used = [&](unsigned candidate) {
      if (v.mode == TestMode::kReal && candidate == 4) return true;
      return std::any_of(addends.begin(), addends.end(),
                         [&](const auto& a) { return a.first == candidate; });
    };
    while (used(e.reg)) e.reg = (e.reg + 1) % (long_mode ? 16 : 8);
    e.body[0] = static_cast<uint8_t>((e.body[0] & 0xc7) | (e.reg & 7) << 3);
    const auto bits = static_cast<int64_t>(e.operand_bits);
    gpr(v, e.reg) =
        static_cast<uint64_t>(static_cast<int64_t>(random(4 * e.operand_bits)) - 2 * bits);
  }
}

Variant VariantGenerator::probe(CpuProbe which) {
  Variant v;
  v.mode = which == CpuProbe::kCodeSegmentWrite ? TestMode::kProt32 : TestMode::kLong;
  set_up_state(v, instruction_templates()[0]);
  v.regs.rflags &= ~kRflagsTf;  // the probes look at the instruction's own exception
  switch (which) {
    case CpuProbe::kCodeSegmentWrite:  // CS has base 0 in 32-bit protected mode
      v.bytes = {kSegmentPrefix[kCs], 0x88, 0x00};
      v.regs.rax = kFlatWindow + 0x100;
      break;
    case CpuProbe::kRmwFault:  // the page after the low window is not present
      v.bytes = {0x00, 0x00};
      v.regs.rax = kLowWindow + 4 * kPage;
      break;
    case CpuProbe::kNoncanonicalStack:
      v.bytes = {0x8a, 0x04, 0x24};
      v.regs.rsp = 0x0000800000000000;
      break;
  }
  return v;
}

// A real-mode fault pushes FLAGS, CS and IP below SS:SP. KVM cannot deliver an exception whose
// frame is MMIO (vmx.c stops with KVM_INTERNAL_ERROR_DELIVERY_EV; on kvm-amd the vCPU never gets
// past the fault), so SP puts the frame in RAM nothing else uses.
void VariantGenerator::place_real_mode_stack(Variant& v) {
  const uint64_t base = v.sregs.ss.base;
  std::vector<std::pair<uint64_t, uint64_t>> starts;  // [first, last] frame addresses
  uint64_t total = 0;
  for (const auto& [begin, end] : kRealModeStackRam) {
    const uint64_t first = std::max(begin, base);
    const uint64_t last = std::min(end - kRealModeFrame, base + 0xffff - kRealModeFrame);
    if (first > last) continue;
    starts.push_back({first, last});
    total += last - first + 1;
  }
  if (total == 0) return;  // not for the SS bases set_up_state and set_segment_base choose
  uint64_t pick = random(total);
  for (const auto& [first, last] : starts) {
    if (pick <= last - first) {
      v.regs.rsp = (v.regs.rsp & ~0xffffull) | (first + pick + kRealModeFrame - base);
      return;
    }
    pick -= last - first + 1;
  }
}

void VariantGenerator::encode_string(Variant& v, Encoding& e) {
  const unsigned count = e.rep ? static_cast<unsigned>(random(5)) : 0;
  const uint64_t counter = random_register(v);
  v.regs.rcx = e.rep ? (counter & ~e.address_mask) | count : counter;
  const uint64_t source = offset_of(v, e, e.override_seg >= 0 ? e.override_seg : kDs);
  v.regs.rsi = (random_register(v) & ~e.address_mask) | source;
  e.target = pick_target(e.size, 1, kStringMargin);
  const uint64_t destination = offset_of(v, e, kEs);
  v.regs.rdi = (random_register(v) & ~e.address_mask) | destination;
}

Variant VariantGenerator::generate(TestMode mode, const Template& form) {
  Variant v;
  v.form = &form;
  v.mode = mode;
  set_up_state(v, form);
  Encoding e = choose_prefixes(v, form);
  const bool long_mode = mode == TestMode::kLong;
  const bool paged = window_ != kFlatWindow;

  unsigned alignment = form.alignment;
  if (alignment > 1 && chance(10)) alignment = 1;  // a misaligned MOVDQA faults in both
  const unsigned margin = form.form == Form::kString ? kStringMargin : form.bit_offset ? 32 : 0;
  e.target = pick_target(e.size, std::max(alignment, 1u), margin);
  // The CPU raises these faults itself (KVM's emulator never sees them): keep them off the
  // departures from the SDM it was probed for. The random draws stay, so later ones do not move.
  bool kept_off = false;
  const bool rmw_fault_departs = cpu_.rmw_faults_as_reads && form.lockable;
  if (paged && form.form != Form::kString && chance(50)) {
    const uint64_t unmapped = window_ + window_pages_ * kPage + random(kPage - e.size);
    kept_off |= rmw_fault_departs;
    if (!rmw_fault_departs) e.target = unmapped;
  }
  if (long_mode && form.form != Form::kString && chance(60)) {
    const uint64_t back = random(8);  // non-canonical (or crossing into it)
    const bool departs = rmw_fault_departs || (back == 0 && cpu_.noncanonical_stack_gp);
    kept_off |= departs;
    // Only a 64-bit address can be non-canonical: with 32-bit addressing (67) the offset would be
    // cut to 0 and the access would land on the oracle's IVT and handlers at guest-physical 0.
    if (!departs && e.address_bits == 64) e.target = 0x0000800000000000 - back;
  }
  // A bit offset register moves the access up to two operands either way, into RAM or out of it.
  const bool may_miss_mmio = !in_mmio(e.target, e.size) || form.bit_offset;
  if (cpu_.code_segment_writes && !long_mode && e.override_seg == kCs && may_miss_mmio) {
    // The CPU alone would carry out this access through CS (to RAM, or to an unmapped page,
    // where it raises #PF), and it lets writes pass: use DS.
    std::replace(e.prefixes.begin(), e.prefixes.end(), kSegmentPrefix[kCs], kSegmentPrefix[kDs]);
    e.override_seg = kDs;
    kept_off = true;
  }
  if (kept_off) ++steered_;

  if (form.form == Form::kModrm) {
    encode_modrm(v, form, e);
  } else if (form.form == Form::kMoffs) {
    put(e.body, offset_of(v, e, e.override_seg >= 0 ? e.override_seg : kDs), e.address_bits / 8);
  } else {
    encode_string(v, e);
  }
  if (form.digit >= 0 && !e.body.empty()) {
    e.body[0] = static_cast<uint8_t>((e.body[0] & 0xc7) | form.digit << 3);
  } else if (form.form == Form::kModrm && (e.reg & 8)) {
    e.rex |= 0x44;
  }
  if (form.imm == Imm::kByte) put(e.body, random64(), 1);
  if (form.imm == Imm::kZ) put(e.body, random64(), e.operand_bits == 16 ? 2 : 4);
  if (e.rex_w) e.rex |= 0x48;
  if (long_mode && e.rex == 0 && chance(4)) e.rex = 0x40;

  v.bytes = e.prefixes;
  if (e.rex != 0) v.bytes.push_back(e.rex);
  v.bytes.insert(v.bytes.end(), form.opcode, form.opcode + form.opcode_length);
  const size_t body_at = v.bytes.size();
  v.bytes.insert(v.bytes.end(), e.body.begin(), e.body.end());
  if (e.rip_disp_at) {
    const uint64_t disp = e.rip_relative_offset - (v.regs.rip + v.bytes.size());
    for (unsigned i = 0; i < 4; ++i) {
      v.bytes[body_at + *e.rip_disp_at + i] = static_cast<uint8_t>(disp >> (8 * i));
    }
  }
  if (mode == TestMode::kReal) {
    place_real_mode_stack(v);
    // The single-step trap pushes its frame below the SP the instruction leaves: keep it placed.
    if (e.reg == 4) v.regs.rflags &= ~kRflagsTf;
  }
  // One in three: lib/x86 gets only the first bytes (maybe none) and fetches the rest itself.
  if (extra_rng_() % 3 == 0) v.bytes_given = extra_rng_() % v.bytes.size();
  return v;
}

}  // namespace ferry::x86::test

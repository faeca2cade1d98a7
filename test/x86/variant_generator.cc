#include "variant_generator.h"

#include <algorithm>
#include <cstring>

#include "fake_platform.h"
#include "ferry/x86/cpu_state.h"
#include "page_tables.h"

namespace ferry::x86::test {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kCodePage = 0x10000;
// The data window: RAM | MMIO | MMIO (| RAM with paging), as guest-physical pages.
constexpr uint64_t kFlatWindow = 0x9f000;  // no paging: linear = physical, the hole follows
constexpr uint64_t kFlatWindowGpas[] = {0x9f000, 0xa0000, 0xa1000};
constexpr uint64_t kPagedWindowGpas[] = {0x300000, 0xe0001000, 0xa5000, 0x301000};
constexpr uint64_t kLowWindow = 0x40000000;
constexpr uint64_t kHighWindow = 0xffff800012340000;  // 64-bit mode only
constexpr uint64_t kRamPages[] = {0x9f000, 0x300000, 0x301000};

enum SegIndex : int { kEs, kCs, kSs, kDs, kFs, kGs };
constexpr uint8_t kSegmentPrefix[] = {0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65};

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

VariantGenerator::VariantGenerator(uint64_t seed, std::span<uint8_t> ram,
                                   const accel::SpecialRegs& initial)
    : rng_(seed), ram_(ram), initial_(initial) {
  PageTables legacy(ram, PagingFormat::k32Bit, 0x100000, 0x140000);
  PageTables pae(ram, PagingFormat::kPae, 0x140000, 0x180000);
  PageTables long_mode(ram, PagingFormat::kLevel4, 0x180000, 0x1c0000);
  for (PageTables* t : {&legacy, &pae, &long_mode}) {
    t->map(kCodePage, kCodePage);
    for (unsigned i = 0; i < 4; ++i) t->map(kLowWindow + i * kPage, kPagedWindowGpas[i]);
  }
  for (unsigned i = 0; i < 4; ++i) long_mode.map(kHighWindow + i * kPage, kPagedWindowGpas[i]);
  cr3_32bit_ = legacy.root();
  cr3_pae_ = pae.root();
  cr3_long_ = long_mode.root();
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
    const uint64_t selector = (target - random(0xf000)) >> 4;
    s.selector = static_cast<uint16_t>(selector);
    s.base = selector << 4;
    return;
  }
  // With 16-bit addressing the offset must stay below 64 KiB; otherwise any base will do.
  s.base = address_bits == 16 ? (target - random(0xf000)) & 0xffffffff : random64() & 0xffffffff;
}

Variant VariantGenerator::generate(TestMode mode, const Template& form) {
  Variant v;
  v.form = &form;
  v.mode = mode;
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
      const uint16_t selector = static_cast<uint16_t>(random(0x10000));
      segment(s, seg) = {.base = uint64_t{selector} << 4,
                         .limit = 0xffff,
                         .selector = selector,
                         .type = 0x3,
                         .present = true,
                         .s = true};
    }
  } else {
    s.cr0 |= accel::kCr0Pe;
    s.cs = {.base = 0,
            .limit = 0xffffffff,
            .selector = 0x08,
            .type = 0xb,
            .dpl = 0,
            .present = true,
            .s = true,
            .db = !sixteen && !long_mode,
            .l = long_mode,
            .g = true};
    if (mode == TestMode::kProt16) s.cs.base = kCodePage;
    for (int seg : {kEs, kSs, kDs, kFs, kGs}) {
      segment(s, seg) = data_segment(long_mode ? 0 : random64() & 0xffffffff, true);
    }
    if (paged) s.cr0 |= accel::kCr0Pg;
    if (mode == TestMode::kProt32Paging) s.cr3 = cr3_32bit_;
    if (mode == TestMode::kProt32Pae) {
      s.cr3 = cr3_pae_;
      s.cr4 |= accel::kCr4Pae;
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
  uint64_t* gprs[16] = {&r.rax, &r.rcx, &r.rdx, &r.rbx, &r.rsp, &r.rbp, &r.rsi, &r.rdi,
                        &r.r8,  &r.r9,  &r.r10, &r.r11, &r.r12, &r.r13, &r.r14, &r.r15};
  for (uint64_t* g : gprs) *g = long_mode ? random64() : random64() & 0xffffffff;
  r.rflags = 0x2 | (random64() & kRflagsArith);
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

  // Sizes and prefixes.
  std::vector<uint8_t> prefixes;
  unsigned operand_bits = long_mode ? 32 : sixteen ? 16 : 32;
  unsigned address_bits = long_mode ? 64 : sixteen ? 16 : 32;
  bool rex_w = false;
  if (form.width == Width::kV && chance(3)) {
    prefixes.push_back(0x66);
    operand_bits = operand_bits == 16 ? 32 : 16;
  }
  if (long_mode && (form.width == Width::kV || form.width == Width::kY) && chance(3)) {
    rex_w = true;
    operand_bits = 64;
  }
  if (form.width == Width::kY && !rex_w) operand_bits = 32;
  if (form.width == Width::kByte) operand_bits = 8;
  if (form.width == Width::kWord) operand_bits = 16;
  if (!(long_mode && window_ == kHighWindow) && chance(4)) {
    prefixes.push_back(0x67);
    address_bits = address_bits == 32 ? 16 : 32;
    if (long_mode) address_bits = 32;
  }
  int override_seg = -1;
  if (chance(3)) {
    override_seg = static_cast<int>(random(6));
    // CS keeps its base (the code is there), so only flat 32-bit addressing can reach the window
    // through it; string sources stay off ES, which the destination rebases.
    const bool cs_reachable = long_mode || (!sixteen && address_bits == 32);
    if ((override_seg == kCs && !cs_reachable) ||
        (override_seg == kEs && form.form == Form::kString)) {
      override_seg = kDs;
    }
    prefixes.push_back(kSegmentPrefix[override_seg]);
  }
  if (form.lockable && chance(4)) prefixes.push_back(0xf0);
  const bool rep = form.form == Form::kString && chance(2);
  if (rep) prefixes.push_back(chance(8) ? 0xf2 : 0xf3);
  std::shuffle(prefixes.begin(), prefixes.end(), rng_);
  if (form.mandatory_prefix != 0) prefixes.push_back(form.mandatory_prefix);
  const unsigned operand_bytes = operand_bits / 8;
  const unsigned size = form.mem_bytes != 0 ? form.mem_bytes : operand_bytes;
  const uint64_t address_mask = mask_bits(address_bits);

  unsigned alignment = form.alignment;
  if (alignment > 1 && chance(10)) alignment = 1;  // a misaligned MOVDQA faults in both
  const unsigned margin = form.form == Form::kString ? 64 : form.bit_offset ? 32 : 0;
  uint64_t target = pick_target(size, std::max(alignment, 1u), margin);
  if (paged && form.form != Form::kString && chance(50)) {
    target = window_ + window_pages_ * kPage + random(kPage - size);  // an unmapped page
  }
  if (long_mode && form.form != Form::kString && chance(60)) {
    target = 0x0000800000000000 - random(8);  // non-canonical (or crossing into it)
  }

  // The offset of `target` through segment `seg`: long mode adds only FS and GS bases.
  auto offset_of = [&](int seg) -> uint64_t {
    if (long_mode) {
      if (seg != kFs && seg != kGs) return target & address_mask;
      // With 32-bit addressing the offset is truncated: put the base just below the target.
      if (address_bits == 32) segment(s, seg).base = target - random(0x10000000);
      return (target - segment(s, seg).base) & address_mask;
    }
    set_segment_base(v, seg, target, address_bits);
    return (target - segment(s, seg).base) & 0xffffffff & address_mask;
  };

  std::vector<uint8_t> body;
  uint8_t rex = 0;
  unsigned reg = static_cast<unsigned>(random(long_mode ? 16 : 8));
  std::optional<size_t> rip_disp_at;  // where the RIP-relative displacement goes
  uint64_t rip_relative_offset = 0;
  if (form.form == Form::kModrm) {
    uint8_t modrm = 0;
    std::vector<uint8_t> tail;
    int default_seg = kDs;
    std::vector<std::pair<unsigned, uint64_t>> addends;  // (register, scale)
    int64_t disp = 0;
    unsigned disp_bytes = 0;
    if (address_bits == 16) {
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
      const bool near = target < 0x80000000 && override_seg != kFs && override_seg != kGs;
      if (long_mode && address_bits == 64 && choice >= 4 && !near)
        choice = static_cast<unsigned>(random(4));
      unsigned base = static_cast<unsigned>(random(regs));
      unsigned index = static_cast<unsigned>(random(regs));
      while (index == 4 || index == base) index = static_cast<unsigned>(random(regs));
      const unsigned scale_log = static_cast<unsigned>(random(4));
      if (choice == 4) {  // [disp32] alone (SIB without base and index in 64-bit mode)
        disp_bytes = 4;
        if (long_mode) {
          modrm = static_cast<uint8_t>((reg & 7) << 3 | 4);
          tail.push_back(0x25);
        } else {
          modrm = static_cast<uint8_t>((reg & 7) << 3 | 5);
        }
      } else if (choice == 5) {  // RIP-relative
        disp_bytes = 4;
        modrm = static_cast<uint8_t>((reg & 7) << 3 | 5);
      } else {
        const unsigned mod = choice == 0   ? 0
                             : choice == 1 ? 1
                             : choice == 2 ? 2
                                           : static_cast<unsigned>(random(3));
        if (mod == 0 && (base & 7) == 5) base ^= 1;  // mod 0 with base 5 means "no base"
        if (index == base) index = (base + 1) % regs == 4 ? (base + 2) % regs : (base + 1) % regs;
        disp_bytes = mod == 0 ? 0 : mod == 1 ? 1 : 4;
        addends.push_back({base, 1});
        if ((base & 7) == 4 || (base & 7) == 5) default_seg = (base & 8) ? kDs : kSs;
        if (choice == 3 || (base & 7) == 4) {
          uint8_t sib = static_cast<uint8_t>((base & 7));
          if (choice == 3) {
            addends.push_back({index, 1ull << scale_log});
            sib |= static_cast<uint8_t>(scale_log << 6 | (index & 7) << 3);
            if (index & 8) rex |= 0x42;
          } else {
            sib |= 4 << 3;  // no index
          }
          modrm = static_cast<uint8_t>(mod << 6 | (reg & 7) << 3 | 4);
          tail.push_back(sib);
        } else {
          modrm = static_cast<uint8_t>(mod << 6 | (reg & 7) << 3 | (base & 7));
        }
        if (base & 8) rex |= 0x41;
      }
    }
    const bool rip_relative = address_bits != 16 && long_mode && (modrm & 0xc7) == 5;
    const uint64_t ea = offset_of(override_seg >= 0 ? override_seg : default_seg);
    if (disp_bytes == 1) disp = static_cast<int8_t>(random(256));
    if (disp_bytes == 2) disp = static_cast<int16_t>(random(65536));
    if (disp_bytes == 4) disp = static_cast<int32_t>(random64());
    if (addends.empty() && !rip_relative) disp = static_cast<int64_t>(ea);  // absolute
    if (!addends.empty()) {
      // Random values for all but the first addend, which makes the sum come out at `ea`.
      uint64_t rest = static_cast<uint64_t>(disp);
      for (size_t i = 1; i < addends.size(); ++i) {
        const uint64_t value = long_mode ? random64() >> random(64) : random64() & 0xffffffff;
        *gprs[addends[i].first] = value;
        rest += value * addends[i].second;
      }
      const uint64_t first = (ea - rest) & address_mask;
      const uint64_t upper = long_mode ? random64() : random64() & 0xffffffff;
      *gprs[addends[0].first] = (upper & ~address_mask) | first;
    }
    if (std::strncmp(form.name, "cmpxchg", 7) == 0 && chance(2)) {
      r.rax = (r.rax & ~mask_bits(size * 8)) | memory_value(target, size);  // compare succeeds
    }
    body.push_back(modrm);
    body.insert(body.end(), tail.begin(), tail.end());
    if (rip_relative) {
      rip_disp_at = body.size();
      rip_relative_offset = ea;
    }
    put(body, static_cast<uint64_t>(disp), disp_bytes);
    if (form.bit_offset) {
      // The bit offset register must not be an address register.
      auto used = [&](unsigned candidate) {
        return std::any_of(addends.begin(), addends.end(),
                           [&](const auto& a) { return a.first == candidate; });
      };
      while (used(reg)) reg = (reg + 1) % (long_mode ? 16 : 8);
      body[0] = static_cast<uint8_t>((body[0] & 0xc7) | (reg & 7) << 3);
      const int64_t bits = static_cast<int64_t>(operand_bits);
      *gprs[reg] = static_cast<uint64_t>(static_cast<int64_t>(random(4 * operand_bits)) - 2 * bits);
    }
  } else if (form.form == Form::kMoffs) {
    const int seg = override_seg >= 0 ? override_seg : kDs;
    put(body, offset_of(seg), address_bits / 8);
  } else {  // string
    const unsigned count = rep ? static_cast<unsigned>(random(5)) : 0;
    const uint64_t counter = long_mode ? random64() : random64() & 0xffffffff;
    r.rcx = rep ? (counter & ~address_mask) | count : counter;
    const int source_seg = override_seg >= 0 ? override_seg : kDs;
    const uint64_t source = offset_of(source_seg);
    const uint64_t upper_si = long_mode ? random64() : random64() & 0xffffffff;
    r.rsi = (upper_si & ~address_mask) | source;
    target = pick_target(size, 1, margin);
    const uint64_t destination = offset_of(kEs);
    const uint64_t upper_di = long_mode ? random64() : random64() & 0xffffffff;
    r.rdi = (upper_di & ~address_mask) | destination;
  }
  if (form.digit >= 0 && !body.empty()) {
    body[0] = static_cast<uint8_t>((body[0] & 0xc7) | form.digit << 3);
  } else if (form.form == Form::kModrm && (reg & 8)) {
    rex |= 0x44;
  }
  if (form.imm == Imm::kByte) put(body, random64(), 1);
  if (form.imm == Imm::kZ) put(body, random64(), operand_bits == 16 ? 2 : 4);
  if (rex_w) rex |= 0x48;
  if (long_mode && rex == 0 && chance(4)) rex = 0x40;

  v.bytes = prefixes;
  if (rex != 0) v.bytes.push_back(rex);
  v.bytes.insert(v.bytes.end(), form.opcode, form.opcode + form.opcode_length);
  const size_t body_at = v.bytes.size();
  v.bytes.insert(v.bytes.end(), body.begin(), body.end());
  if (rip_disp_at) {
    const uint64_t next = r.rip + v.bytes.size();
    const uint64_t disp = rip_relative_offset - next;
    for (unsigned i = 0; i < 4; ++i) {
      v.bytes[body_at + *rip_disp_at + i] = static_cast<uint8_t>(disp >> (8 * i));
    }
  }
  return v;
}

}  // namespace ferry::x86::test

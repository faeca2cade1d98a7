// Random instruction variants for the differential test: an instruction form from
// instruction_templates.h with random prefixes, registers, addressing and values, and a CPU
// state whose memory operand lands in a window of RAM and MMIO pages (often across a page).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "ferry/accel/registers.h"
#include "instruction_templates.h"

namespace ferry::x86::test {

enum class TestMode : uint8_t {
  kReal,          // real mode
  kProt16,        // 16-bit protected mode, no paging
  kProt32,        // 32-bit protected mode, no paging, random segment bases
  kProt32Paging,  // 32-bit paging
  kProt32Pae,     // PAE paging
  kCompat32,      // compatibility mode: a 32-bit code segment in long mode, 4-level paging
  kLong,          // 64-bit mode, 4-level paging
};

const char* mode_name(TestMode mode);
inline void PrintTo(TestMode mode, std::ostream* out) { *out << mode_name(mode); }

struct Variant {
  const Template* form = nullptr;
  TestMode mode = TestMode::kLong;
  std::vector<uint8_t> bytes;
  // How many of `bytes` lib/x86 is handed, as an intercept would (an MSHV intercept carries up
  // to 16, KVM's none); it fetches the rest from the code in guest memory. All by default.
  size_t bytes_given = SIZE_MAX;
  uint64_t code_gpa = 0;
  accel::Regs regs;
  accel::SpecialRegs sregs;
  std::optional<accel::FpuState> fpu;
  uint64_t flags_compared = 0;
  std::vector<uint64_t> data_pages;  // guest-physical RAM pages the instruction may write
  // Guest-physical pages of the mode's page tables: lib/x86 reads them and sets A/D bits there.
  std::vector<uint64_t> table_pages;
};

// Where the CPU under KVM departs from the SDM in what decides variants that never reach KVM's
// emulator (no MMIO: the CPU alone runs them). The development host's CPU departs in none; QEMU's
// TCG, the lab's L1 CPU, in all three. The generator keeps variants off the departures it is
// told of.
struct CpuDeviations {
  bool code_segment_writes = false;    // a write through CS completes instead of raising #GP
  bool rmw_faults_as_reads = false;    // a read-modify-write's #PF error code lacks W
  bool noncanonical_stack_gp = false;  // a non-canonical access through SS raises #GP, not #SS
};

/// The departures, one phrase each, separated by "; " (empty when there are none).
std::string describe(const CpuDeviations& cpu);

// One instruction each whose outcome the SDM fixes and that finds a CpuDeviations field.
enum class CpuProbe : uint8_t {
  kCodeSegmentWrite,   // prot32: mov cs:[eax], al to RAM. SDM: #GP(0)
  kRmwFault,           // long: add [rax], al on a not-present page. SDM: #PF(W)
  kNoncanonicalStack,  // long: mov al, [rsp] at 0x800000000000. SDM: #SS(0)
};

class VariantGenerator {
 public:
  /// Writes the page tables of every mode into `ram` (guest-physical 0 up).
  VariantGenerator(uint64_t seed, std::span<uint8_t> ram, const accel::SpecialRegs& initial,
                   CpuDeviations cpu = {});

  /// Restarts the random sequence from `seed` (the differential test gives each form its own, so
  /// a form's variants do not depend on which forms ran before it).
  void reseed(uint64_t seed) {
    rng_.seed(seed);
    extra_rng_.seed(~seed);
  }
  /// A random variant of `form` in `mode`; it also refills the window's RAM pages with random
  /// bytes.
  Variant generate(TestMode mode, const Template& form);
  /// The probe's instruction with the state it needs.
  Variant probe(CpuProbe which);
  /// How many variants so far took another address or segment than their random draw because of
  /// a CpuDeviations field.
  unsigned steered() const { return steered_; }

 private:
  // The encoding choices of one variant, made step by step.
  struct Encoding {
    std::vector<uint8_t> prefixes;
    unsigned operand_bits = 32;
    unsigned address_bits = 32;
    uint64_t address_mask = 0;
    unsigned size = 4;  // bytes of the memory access
    bool rex_w = false;
    uint8_t rex = 0;
    int override_seg = -1;  // index of the segment override, or -1
    bool rep = false;
    unsigned reg = 0;                   // ModRM.reg
    uint64_t target = 0;                // the linear address the access goes to
    std::vector<uint8_t> body;          // ModRM, SIB, displacement (or moffs)
    std::optional<size_t> rip_disp_at;  // where in body a RIP-relative displacement goes
    uint64_t rip_relative_offset = 0;
  };

  void set_up_state(Variant& v, const Template& form);
  Encoding choose_prefixes(const Variant& v, const Template& form);
  void encode_modrm(Variant& v, const Template& form, Encoding& e);
  void encode_string(Variant& v, Encoding& e);
  /// The offset of e.target through segment `seg`, rebasing the segment where the mode allows.
  uint64_t offset_of(Variant& v, const Encoding& e, int seg);
  static uint64_t& gpr(Variant& v, unsigned number);
  uint64_t random_register(const Variant& v);
  uint64_t random(uint64_t bound) {
    return std::uniform_int_distribution<uint64_t>(0, bound - 1)(rng_);
  }
  uint64_t random64() { return rng_(); }
  bool chance(unsigned one_in) { return random(one_in) == 0; }
  uint64_t memory_value(uint64_t linear, unsigned size) const;
  uint64_t pick_target(unsigned size, unsigned alignment, unsigned margin);
  void set_segment_base(Variant& v, int seg, uint64_t target, unsigned address_bits);
  void place_real_mode_stack(Variant& v);
  bool in_mmio(uint64_t linear, unsigned size) const;  // every byte on a window page that is MMIO

  std::mt19937_64 rng_;
  // The draws added after the lab's seed was checked (kLabSeed, differential_test.cc: QEMU's
  // TCG aborts on some variants) come from a stream of their own, so rng_'s variants stay the
  // ones that were checked: RFLAGS.IF, AC and TF, and how many bytes lib/x86 is handed.
  std::mt19937_64 extra_rng_;
  CpuDeviations cpu_;
  unsigned steered_ = 0;
  std::span<uint8_t> ram_;
  accel::SpecialRegs initial_;
  uint64_t cr3_32bit_ = 0, cr3_pae_ = 0, cr3_long_ = 0;
  std::array<uint8_t, 32> pae_pdptes_{};  // the four PDPTEs as the constructor wrote them
  // The current variant's window: linear base and page count.
  uint64_t window_ = 0;
  unsigned window_pages_ = 0;
};

}  // namespace ferry::x86::test

#include "ferry/x86/page_walker.h"

#include <array>
#include <cstring>

#include "ferry/x86/fault.h"

namespace ferry::x86 {
namespace {

constexpr uint64_t kPresent = 1ull << 0;
constexpr uint64_t kWritable = 1ull << 1;
constexpr uint64_t kUser = 1ull << 2;
constexpr uint64_t kAccessed = 1ull << 5;
constexpr uint64_t kDirty = 1ull << 6;
constexpr uint64_t kLarge = 1ull << 7;
constexpr uint64_t kNoExecute = 1ull << 63;
constexpr uint64_t kAddressMask = 0x000ffffffffff000ull;  // bits 51:12 (MAXPHYADDR 52)

// One paging structure entry the walk read, to set its accessed/dirty bits afterwards.
struct Visited {
  uint64_t gpa = 0;
  uint64_t value = 0;
  unsigned bytes = 8;
};

// The walk's bookkeeping: permissions accumulate over all levels, as the SDM specifies.
struct Walk {
  std::array<Visited, 5> visited;
  unsigned count = 0;
  bool writable = true;
  bool user = true;
  bool executable = true;
};

Expected<uint64_t> read_entry(Platform& platform, uint64_t gpa, unsigned bytes) {
  std::array<uint8_t, 8> raw{};
  if (!platform.read_ram(gpa, std::span(raw.data(), bytes))) {
    return fail(Errc::kGuestFault,
                "the guest's page tables point outside RAM (entry at guest-physical {:#x}); the "
                "walk cannot continue",
                gpa);
  }
  uint64_t value = 0;
  std::memcpy(&value, raw.data(), bytes);
  return value;
}

uint32_t base_error_code(AccessIntent intent, bool fetch_bit) {
  uint32_t code = 0;
  if (intent.write) code |= kPfWrite;
  if (intent.user) code |= kPfUser;
  if (intent.fetch && fetch_bit) code |= kPfFetch;
  return code;
}

Translation page_fault(uint32_t code) {
  return Translation{.ok = false, .gpa = 0, .error_code = code};
}

// The permission checks at the end of a successful walk (SDM vol. 3, 4.6).
bool permitted(const CpuState& state, const Walk& walk, AccessIntent intent, bool nxe) {
  const uint64_t cr0 = state.sregs.cr0, cr4 = state.sregs.cr4;
  if (intent.user && !walk.user) return false;
  if (intent.write && !walk.writable && (intent.user || (cr0 & kCr0Wp) != 0)) return false;
  if (intent.fetch) {
    if (nxe && !walk.executable) return false;
    if (!intent.user && walk.user && (cr4 & kCr4Smep) != 0) return false;
  } else if (!intent.user && walk.user && (cr4 & kCr4Smap) != 0 &&
             (state.regs.rflags & kRflagsAc) == 0) {
    return false;
  }
  return true;
}

// Sets the accessed bits the walk used, and the dirty bit of the leaf on a write.
Expected<void> update_accessed_dirty(Platform& platform, Walk& walk, bool write) {
  for (unsigned i = 0; i < walk.count; ++i) {
    Visited& v = walk.visited[i];
    uint64_t wanted = v.value | kAccessed;
    if (write && i + 1 == walk.count) wanted |= kDirty;
    if (wanted == v.value) continue;
    if (!platform.write_ram(v.gpa, std::span(reinterpret_cast<const uint8_t*>(&wanted), v.bytes))) {
      return fail(Errc::kGuestFault, "could not set accessed/dirty bits at guest-physical {:#x}",
                  v.gpa);
    }
  }
  return {};
}

}  // namespace

Expected<Translation> PageWalker::translate(const CpuState& state, uint64_t linear,
                                            AccessIntent intent) {
  const accel::SpecialRegs& s = state.sregs;
  if ((s.cr0 & accel::kCr0Pg) == 0) {
    return Translation{.ok = true, .gpa = linear & 0xffffffffull, .error_code = 0};
  }
  const bool long_mode = (s.efer & accel::kEferLma) != 0;
  const bool pae = (s.cr4 & accel::kCr4Pae) != 0;
  const bool nxe = (long_mode || pae) && (s.efer & kEferNxe) != 0;
  const bool fetch_bit = nxe || (s.cr4 & kCr4Smep) != 0;
  const uint32_t code = base_error_code(intent, fetch_bit);
  Walk walk;

  uint64_t table = 0;
  int level = 0;  // the level of `table`: 5..1 (1 = page table)
  unsigned entry_bytes = 8;
  if (long_mode) {
    level = (s.cr4 & kCr4La57) != 0 ? 5 : 4;
    table = s.cr3 & kAddressMask;
  } else if (pae) {
    const uint64_t pdpte_gpa = (s.cr3 & 0xffffffe0ull) + ((linear >> 30) & 3) * 8;
    FERRY_ASSIGN(const uint64_t pdpte, read_entry(platform_, pdpte_gpa, 8));
    if ((pdpte & kPresent) == 0) return page_fault(code);
    // PDPTE bits 2:1, 8:5 and 63 are reserved: the CPU checks them when it loads CR3.
    if ((pdpte & 0x80000000000001e6ull) != 0) return page_fault(code | kPfPresent | kPfReserved);
    table = pdpte & kAddressMask;
    level = 2;
  } else {
    table = s.cr3 & 0xfffff000ull;
    level = 2;
    entry_bytes = 4;
  }

  const uint64_t reserved_nx = nxe ? 0 : kNoExecute;
  for (;; --level) {
    unsigned index;
    if (entry_bytes == 4) {
      index = static_cast<unsigned>((linear >> (level == 2 ? 22 : 12)) & 0x3ff);
    } else {
      index = static_cast<unsigned>((linear >> (12 + 9 * (level - 1))) & 0x1ff);
    }
    const uint64_t entry_gpa = table + index * entry_bytes;
    FERRY_ASSIGN(const uint64_t entry, read_entry(platform_, entry_gpa, entry_bytes));
    if ((entry & kPresent) == 0) return page_fault(code);
    walk.visited[walk.count++] = {entry_gpa, entry, entry_bytes};
    walk.writable = walk.writable && (entry & kWritable) != 0;
    walk.user = walk.user && (entry & kUser) != 0;
    walk.executable = walk.executable && (entry & kNoExecute) == 0;
    const bool large = (entry & kLarge) != 0 && level > 1;

    uint64_t page_gpa = 0, page_size = 0;
    if (entry_bytes == 4) {
      if (large && (s.cr4 & kCr4Pse) != 0) {
        if ((entry & (1ull << 21)) != 0) return page_fault(code | kPfPresent | kPfReserved);
        page_gpa = (entry & 0xffc00000ull) | (((entry >> 13) & 0xff) << 32);
        page_size = 1ull << 22;
      } else if (level == 1) {
        page_gpa = entry & 0xfffff000ull;
        page_size = 1ull << 12;
      }
    } else {
      if ((entry & reserved_nx) != 0) return page_fault(code | kPfPresent | kPfReserved);
      if (large) {
        // PS is reserved in PML5E and PML4E; 1 GiB and 2 MiB pages keep bits 29:13 / 20:13 zero.
        if (level > 3) return page_fault(code | kPfPresent | kPfReserved);
        page_size = 1ull << (12 + 9 * (level - 1));
        const uint64_t reserved = (page_size - 1) & ~0x1fffull;
        if ((entry & reserved) != 0) return page_fault(code | kPfPresent | kPfReserved);
        page_gpa = entry & kAddressMask & ~(page_size - 1);
      } else if (level == 1) {
        page_gpa = entry & kAddressMask;
        page_size = 1ull << 12;
      }
    }
    if (page_size != 0) {
      if (!permitted(state, walk, intent, nxe)) return page_fault(code | kPfPresent);
      FERRY_TRY(update_accessed_dirty(platform_, walk, intent.write));
      return Translation{.ok = true, .gpa = page_gpa | (linear & (page_size - 1)), .error_code = 0};
    }
    table = entry & (entry_bytes == 4 ? 0xfffff000ull : kAddressMask);
  }
}

}  // namespace ferry::x86

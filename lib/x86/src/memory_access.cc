#include "memory_access.h"

#include <fmt/format.h>

namespace ferry::x86 {
namespace {

constexpr uint64_t kPageSize = 4096;
constexpr unsigned kMaxAccess = 16;

bool canonical(uint64_t linear, unsigned bits) {
  const auto shifted = static_cast<int64_t>(linear << (64 - bits)) >> (64 - bits);
  return static_cast<uint64_t>(shifted) == linear;
}

}  // namespace

unsigned MemoryAccess::linear_bits() const { return (state_.sregs.cr4 & kCr4La57) != 0 ? 57 : 48; }

const char* segment_name(Seg seg) {
  static constexpr const char* kNames[] = {"ES", "CS", "SS", "DS", "FS", "GS"};
  return kNames[static_cast<unsigned>(seg)];
}

const accel::Segment& MemoryAccess::segment(Seg seg) const {
  const accel::SpecialRegs& s = state_.sregs;
  switch (seg) {
    case Seg::kEs:
      return s.es;
    case Seg::kCs:
      return s.cs;
    case Seg::kSs:
      return s.ss;
    case Seg::kDs:
      return s.ds;
    case Seg::kFs:
      return s.fs;
    case Seg::kGs:
      return s.gs;
  }
  return s.ds;
}

Expected<uint64_t> MemoryAccess::linearize(Seg seg, uint64_t offset, unsigned size,
                                           AccessKind kind) {
  const accel::Segment& desc = segment(seg);
  // Segment violations are #SS(0) on the stack segment, #GP(0) elsewhere.
  const Vector violation = seg == Seg::kSs ? Vector::kSs : Vector::kGp;
  if (mode_ == CpuMode::kLong64) {
    // Only the first byte here: the CPU walks the first page before it looks at the next one,
    // so an access running into non-canonical space is a #PF when its first page faults. map()
    // checks each further page (the canonical boundary is page aligned).
    const uint64_t base = seg == Seg::kFs || seg == Seg::kGs ? desc.base : 0;
    const uint64_t first = base + offset;
    if (!canonical(first, linear_bits())) {
      return fail(
          faults_.raise(violation, 0,
                        fmt::format("{}-byte access at non-canonical address {:#x} ({}:{:#x})",
                                    size, first, segment_name(seg), offset)));
    }
    return first;
  }

  const bool real = mode_ == CpuMode::kReal;
  if (!real && (desc.unusable || !desc.present)) {
    return fail(faults_.raise(violation, 0,
                              fmt::format("access through {} which holds a null or unusable "
                                          "segment",
                                          segment_name(seg))));
  }
  const bool code = (desc.type & 0x8) != 0;
  if (!real && kind != AccessKind::kFetch) {
    // Code segments: never writable, readable only with R. Data segments: writable with W.
    const bool denied = code ? (kind == AccessKind::kWrite || (desc.type & 0x2) == 0)
                             : (kind == AccessKind::kWrite && (desc.type & 0x2) == 0);
    if (denied) {
      return fail(
          faults_.raise(violation, 0,
                        fmt::format("{} through {} whose segment type {:#x} does not allow it",
                                    kind == AccessKind::kWrite ? "write" : "read",
                                    segment_name(seg), desc.type)));
    }
  }
  const uint64_t last = offset + (size - 1);
  bool within;
  // Expand-down: valid offsets are (limit, upper]. Code is fetched through CS, never expand-down.
  if (kind != AccessKind::kFetch && !code && (desc.type & 0x4) != 0) {
    const uint64_t upper = desc.db ? 0xffffffffull : 0xffffull;
    within = offset > desc.limit && last <= upper;
  } else {
    within = last <= desc.limit;
  }
  if (!within) {
    return fail(faults_.raise(violation, 0,
                              fmt::format("{}-byte access at {}:{:#x} is outside the segment limit "
                                          "{:#x}",
                                          size, segment_name(seg), offset, desc.limit)));
  }
  return (desc.base + offset) & 0xffffffffull;
}

Expected<void> MemoryAccess::check_segment(Seg seg, uint64_t offset, unsigned size,
                                           AccessKind kind) {
  FERRY_TRY(linearize(seg, offset, size, kind));
  return {};
}

Expected<Mapped> MemoryAccess::map(Seg seg, uint64_t offset, unsigned size, AccessKind kind,
                                   unsigned alignment) {
  if (size == 0 || size > kMaxAccess) {
    return fail(Errc::kInternal, "x86 emulator: a {}-byte access is outside 1-{}", size,
                kMaxAccess);
  }
  FERRY_ASSIGN(const uint64_t linear, linearize(seg, offset, size, kind));
  if ((linear & (alignment - 1)) != 0) {
    return fail(faults_.raise(
        Vector::kGp, 0,
        fmt::format("{}-byte aligned access at misaligned address {:#x}", alignment, linear)));
  }
  const AccessIntent intent{.write = kind == AccessKind::kWrite,
                            .fetch = kind == AccessKind::kFetch,
                            .user = cpl(state_) == 3};
  Mapped mapped{.linear = linear, .size = size};
  uint64_t address = linear;
  unsigned left = size;
  while (left > 0) {
    if (mode_ != CpuMode::kLong64) address &= 0xffffffffull;
    if (mode_ == CpuMode::kLong64 && mapped.pieces > 0 && !canonical(address, linear_bits())) {
      return fail(faults_.raise(
          seg == Seg::kSs ? Vector::kSs : Vector::kGp, 0,
          fmt::format("{}-byte access at {:#x} runs into the non-canonical address {:#x}", size,
                      linear, address)));
    }
    const auto in_page =
        static_cast<unsigned>(std::min<uint64_t>(left, kPageSize - address % kPageSize));
    FERRY_ASSIGN(const Translation t, translator_.translate(state_, address, intent));
    if (!t.ok) {
      return fail(faults_.raise(Vector::kPf, t.error_code,
                                fmt::format("the page walk for {:#x} failed", address), address));
    }
    if ((t.gpa & (kPageSize - 1)) != (address & (kPageSize - 1))) {
      return fail(Errc::kInternal,
                  "x86 emulator: the translator mapped linear {:#x} to guest-physical {:#x}, "
                  "which is not at the same offset in its page; the backend's translation is "
                  "broken",
                  address, t.gpa);
    }
    mapped.gpa[mapped.pieces] = t.gpa;
    mapped.length[mapped.pieces] = in_page;
    ++mapped.pieces;
    address += in_page;
    left -= in_page;
  }
  return mapped;
}

Expected<void> MemoryAccess::read(const Mapped& mapped, std::span<uint8_t> data) {
  if (data.size() != mapped.size) {
    return fail(Errc::kInternal, "x86 emulator: reading {} bytes of a {}-byte access", data.size(),
                mapped.size);
  }
  size_t done = 0;
  for (unsigned i = 0; i < mapped.pieces; ++i) {
    std::span<uint8_t> piece = data.subspan(done, mapped.length[i]);
    if (!platform_.read_ram(mapped.gpa[i], piece)) platform_.mmio_read(mapped.gpa[i], piece);
    done += mapped.length[i];
  }
  return {};
}

Expected<void> MemoryAccess::write(const Mapped& mapped, std::span<const uint8_t> data) {
  if (data.size() != mapped.size) {
    return fail(Errc::kInternal, "x86 emulator: writing {} bytes of a {}-byte access", data.size(),
                mapped.size);
  }
  size_t done = 0;
  for (unsigned i = 0; i < mapped.pieces; ++i) {
    std::span<const uint8_t> piece = data.subspan(done, mapped.length[i]);
    if (!platform_.write_ram(mapped.gpa[i], piece)) platform_.mmio_write(mapped.gpa[i], piece);
    done += mapped.length[i];
  }
  return {};
}

}  // namespace ferry::x86

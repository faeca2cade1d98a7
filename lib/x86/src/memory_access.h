// The memory side of one instruction: segmentation (bases, limits, types, canonical checks),
// translation (page walk or the backend's translator) and the split into page pieces that go
// to guest RAM or to MMIO.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "fault_record.h"
#include "ferry/x86/cpu_state.h"
#include "ferry/x86/platform.h"
#include "ferry/x86/translator.h"

namespace ferry::x86 {

enum class Seg : uint8_t { kEs, kCs, kSs, kDs, kFs, kGs };

// An access resolved to guest-physical pieces: at most two, as accesses are at most 16 bytes.
struct Mapped {
  uint64_t linear = 0;
  unsigned size = 0;
  unsigned pieces = 0;
  std::array<uint64_t, 2> gpa{};
  std::array<unsigned, 2> length{};
};

enum class AccessKind : uint8_t { kRead, kWrite, kFetch };

class MemoryAccess {
 public:
  MemoryAccess(const CpuState& state, CpuMode mode, Platform& platform, Translator& translator,
               FaultRecord& faults)
      : state_(state), mode_(mode), platform_(platform), translator_(translator), faults_(faults) {}

  /// Resolves `size` bytes at seg:offset (a data offset already truncated to the address size;
  /// an instruction byte's offset is not wrapped, so one past the CS limit faults). With
  /// `alignment`, a misaligned linear address is #GP(0) (MOVDQA, MOVAPS).
  Expected<Mapped> map(Seg seg, uint64_t offset, unsigned size, AccessKind kind,
                       unsigned alignment = 1);
  /// Checks seg:offset..+size against the segment (usability, type, limit) only, raising the
  /// fault as map() would; for instruction bytes the caller already has.
  Expected<void> check_segment(Seg seg, uint64_t offset, unsigned size, AccessKind kind);
  /// Reads a mapped access (data.size() == mapped.size): RAM directly, the rest as MMIO.
  Expected<void> read(const Mapped& mapped, std::span<uint8_t> data);
  /// Writes a mapped access: RAM directly, the rest as MMIO.
  Expected<void> write(const Mapped& mapped, std::span<const uint8_t> data);

 private:
  Expected<uint64_t> linearize(Seg seg, uint64_t offset, unsigned size, AccessKind kind);
  const accel::Segment& segment(Seg seg) const;
  unsigned linear_bits() const;  // 48, or 57 with 5-level paging

  const CpuState& state_;
  CpuMode mode_;
  Platform& platform_;
  Translator& translator_;
  FaultRecord& faults_;
};

const char* segment_name(Seg seg);

}  // namespace ferry::x86

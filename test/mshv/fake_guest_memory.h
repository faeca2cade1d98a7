// The guest-physical memory of a fake partition as the hypervisor sees it: the regions
// MSHV_SET_GUEST_MEMORY installed (host memory of this process), and the guest page-table walk
// behind HvCallTranslateVirtualAddress.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "ferry/mshv/hv_abi.h"
#include "ferry/mshv/mshv_abi.h"

namespace ferry::test {

struct FakeRegion {
  uint64_t gpa;
  uint64_t size;
  uint64_t host;
  uint8_t flags;
};

// What the page walk needs of the VP.
struct FakePagingState {
  uint64_t cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;
  unsigned cpl = 0;
};

class FakeGuestMemory {
 public:
  /// MSHV_SET_GUEST_MEMORY, checked as mshv_partition_ioctl_set_memory() does: 0 or -errno.
  int set(const mshv::MshvUserMemRegion& region);

  const std::vector<FakeRegion>& regions() const { return regions_; }
  /// The host bytes behind [gpa, gpa+length) when it lies in one RAM region.
  uint8_t* host(uint64_t gpa, uint64_t length) const;
  bool read(uint64_t gpa, std::span<uint8_t> data) const;

  /// HvCallTranslateVirtualAddress: the hypervisor's walk of the guest page tables (4-level, long
  /// mode; identity without paging) for `gva` under `flags`: VALIDATE_READ/WRITE/EXECUTE checked
  /// against R/W (with CR0.WP), U/S (as the current CPL, or as SUPERVISOR_ACCESS/USER_ACCESS say)
  /// and NX (with EFER.NXE); SET_PAGE_TABLE_BITS sets accessed bits, and the dirty bit for a
  /// write. The result code and, when the walk succeeded, the GPA: SUCCESS, GPA_UNMAPPED (not
  /// RAM) or GPA_NO_WRITE_ACCESS (a write to read-only RAM).
  std::pair<uint32_t, uint64_t> translate(const FakePagingState& paging, uint64_t gva,
                                          uint64_t flags) const;
  /// Linear address to GPA the way instruction fetch and operand access would: identity
  /// without paging. nullopt when the walk fails.
  std::optional<uint64_t> linear_to_physical(const FakePagingState& paging, uint64_t linear,
                                             uint64_t flags) const;

 private:
  int map(const mshv::MshvUserMemRegion& region);
  int unmap(const mshv::MshvUserMemRegion& region);
  const FakeRegion* region_of_gpa(uint64_t gpa) const;
  const FakeRegion* region_of_host(uint64_t host) const;

  std::vector<FakeRegion> regions_;
};

}  // namespace ferry::test

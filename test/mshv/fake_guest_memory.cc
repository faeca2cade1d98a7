#include "fake_guest_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ferry::test {
namespace {

using mshv::kHvPageSize;

constexpr uint64_t kUserSpaceTop = 1ull << 47;
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr0Wp = 1ull << 16;
constexpr uint64_t kEferLma = 1ull << 10;
constexpr uint64_t kEferNxe = 1ull << 11;
constexpr uint64_t kPtePresent = 1, kPteWrite = 2, kPteUser = 4, kPteAccessed = 0x20,
                   kPteDirty = 0x40, kPteLarge = 0x80, kPteNx = 1ull << 63;
constexpr uint64_t kPteAddress = 0x000ffffffffff000ull;

bool host_mapped(uint64_t address) {
  // msync on an unmapped address fails with ENOMEM: the kernel's vma lookup, from user space.
  return ::msync(reinterpret_cast<void*>(address & ~(kHvPageSize - 1)), kHvPageSize, MS_ASYNC) == 0;
}

}  // namespace

int FakeGuestMemory::set(const mshv::MshvUserMemRegion& region) {
  bool rsvd = false;
  for (uint8_t b : region.rsvd) rsvd |= b != 0;
  if (region.size == 0 || region.size % kHvPageSize != 0 ||
      region.userspace_addr % kHvPageSize != 0 || (region.flags & ~mshv::kMemFlagsMask) != 0 ||
      rsvd) {
    return -EINVAL;
  }
  return (region.flags & mshv::kMemUnmap) ? unmap(region) : map(region);
}

const FakeRegion* FakeGuestMemory::region_of_gpa(uint64_t gpa) const {
  for (const FakeRegion& r : regions_) {
    if (gpa >= r.gpa && gpa - r.gpa < r.size) return &r;
  }
  return nullptr;
}

const FakeRegion* FakeGuestMemory::region_of_host(uint64_t host) const {
  for (const FakeRegion& r : regions_) {
    if (host >= r.host && host - r.host < r.size) return &r;
  }
  return nullptr;
}

int FakeGuestMemory::map(const mshv::MshvUserMemRegion& m) {
  // access_ok() and the vma lookup of mshv_map_user_memory().
  if (m.userspace_addr >= kUserSpaceTop || m.size > kUserSpaceTop - m.userspace_addr ||
      !host_mapped(m.userspace_addr)) {
    return -EINVAL;
  }
  const uint64_t gpa = m.guest_pfn * kHvPageSize;
  // The driver checks the first and the last page of the new region against the old ones, in
  // guest-physical and in host-virtual space (mshv_partition_create_region()).
  if (region_of_gpa(gpa) || region_of_gpa(gpa + m.size - 1) || region_of_host(m.userspace_addr) ||
      region_of_host(m.userspace_addr + m.size - 1)) {
    return -EEXIST;
  }
  regions_.push_back({gpa, m.size, m.userspace_addr, m.flags});
  return 0;
}

int FakeGuestMemory::unmap(const mshv::MshvUserMemRegion& m) {
  const uint64_t gpa = m.guest_pfn * kHvPageSize;
  auto it = std::find_if(regions_.begin(), regions_.end(),
                         [&](const FakeRegion& r) { return gpa >= r.gpa && gpa - r.gpa < r.size; });
  if (it == regions_.end()) return -EINVAL;
  if (it->host != m.userspace_addr || it->gpa != gpa || it->size != m.size) return -EINVAL;
  regions_.erase(it);
  return 0;
}

uint8_t* FakeGuestMemory::host(uint64_t gpa, uint64_t length) const {
  const FakeRegion* r = region_of_gpa(gpa);
  if (r == nullptr || length > r->size - (gpa - r->gpa)) return nullptr;
  return reinterpret_cast<uint8_t*>(r->host + (gpa - r->gpa));
}

bool FakeGuestMemory::read(uint64_t gpa, std::span<uint8_t> data) const {
  const uint8_t* source = host(gpa, data.size());
  if (source == nullptr) return false;
  std::memcpy(data.data(), source, data.size());
  return true;
}

std::pair<uint32_t, uint64_t> FakeGuestMemory::translate(const FakePagingState& paging,
                                                         uint64_t gva, uint64_t flags) const {
  // Literal flag values of the hypervisor's ABI (HV_TRANSLATE_GVA_*).
  const bool validate_write = flags & 0x2, validate_execute = flags & 0x4;
  const bool set_bits = flags & 0x10;
  const bool user = (flags & 0x80) != 0 || ((flags & 0x40) == 0 && paging.cpl == 3);
  auto at_gpa = [&](uint64_t gpa) -> std::pair<uint32_t, uint64_t> {
    const FakeRegion* region = region_of_gpa(gpa);
    if (region == nullptr) return {mshv::kTranslateGpaUnmapped, gpa};
    if (validate_write && !(region->flags & mshv::kMemWritable)) {
      return {mshv::kTranslateGpaNoWriteAccess, gpa};
    }
    return {mshv::kTranslateSuccess, gpa};
  };
  if (!(paging.cr0 & kCr0Pg)) return at_gpa(gva & 0xffffffffull);
  if (!(paging.efer & kEferLma)) {
    return {mshv::kTranslateInvalidPageTableFlags, 0};  // the fake walks 4-level tables only
  }
  uint64_t table = paging.cr3 & kPteAddress;
  bool writable = true, user_page = true, executable = true;
  uint64_t* walked[4] = {};
  for (int level = 3; level >= 0; --level) {
    const unsigned index = (gva >> (12 + 9 * level)) & 511;
    auto* entry = reinterpret_cast<uint64_t*>(host(table + index * 8, 8));
    if (entry == nullptr) return {mshv::kTranslateInvalidPageTableFlags, 0};
    if (!(*entry & kPtePresent)) return {mshv::kTranslatePageNotPresent, 0};
    if (!(paging.efer & kEferNxe) && (*entry & kPteNx)) {
      return {mshv::kTranslateInvalidPageTableFlags, 0};  // NX is reserved without EFER.NXE
    }
    walked[3 - level] = entry;
    writable &= (*entry & kPteWrite) != 0;
    user_page &= (*entry & kPteUser) != 0;
    executable &= (*entry & kPteNx) == 0;
    const bool leaf = level == 0 || ((level == 1 || level == 2) && (*entry & kPteLarge));
    if (!leaf) {
      table = *entry & kPteAddress;
      continue;
    }
    const uint64_t page_size = 1ull << (12 + 9 * level);
    const uint64_t gpa = (*entry & kPteAddress & ~(page_size - 1)) | (gva & (page_size - 1));
    const bool write_denied = validate_write && !writable && (user || (paging.cr0 & kCr0Wp));
    if (write_denied || (user && !user_page) || (validate_execute && !executable)) {
      return {mshv::kTranslatePrivilegeViolation, 0};
    }
    if (set_bits) {
      for (uint64_t* e : walked) {
        if (e != nullptr) *e |= kPteAccessed;
      }
      if (validate_write) *entry |= kPteDirty;
    }
    return at_gpa(gpa);
  }
  return {mshv::kTranslatePageNotPresent, 0};
}

std::optional<uint64_t> FakeGuestMemory::linear_to_physical(const FakePagingState& paging,
                                                            uint64_t linear, uint64_t flags) const {
  auto [result, gpa] = translate(paging, linear, flags);
  if (result != mshv::kTranslateSuccess && result != mshv::kTranslateGpaUnmapped &&
      result != mshv::kTranslateGpaNoWriteAccess) {
    return std::nullopt;
  }
  return gpa;
}

}  // namespace ferry::test

#include "page_tables.h"

#include <cstring>
#include <stdexcept>

namespace ferry::x86::test {

PageTables::PageTables(std::span<uint8_t> ram, PagingFormat format, uint64_t pool,
                       uint64_t pool_end)
    : ram_(ram), format_(format), next_(pool), end_(pool_end) {
  if (format_ == PagingFormat::kPae) {
    root_ = next_;  // four PDPTEs, 32-byte aligned, at the start of a page of their own
    next_ += 4096;
    std::memset(ram_.data() + root_, 0, 4096);
  } else {
    root_ = allocate();
  }
}

uint64_t PageTables::allocate() {
  if (next_ + 4096 > end_) throw std::runtime_error("page table pool exhausted");
  const uint64_t page = next_;
  next_ += 4096;
  std::memset(ram_.data() + page, 0, 4096);
  return page;
}

uint64_t PageTables::read(uint64_t gpa) const {
  uint64_t value = 0;
  std::memcpy(&value, ram_.data() + gpa, entry_bytes());
  return value;
}

void PageTables::write(uint64_t gpa, uint64_t value) {
  std::memcpy(ram_.data() + gpa, &value, entry_bytes());
}

int PageTables::top_level() const {
  switch (format_) {
    case PagingFormat::k32Bit:
      return 2;
    case PagingFormat::kPae:
      return 3;
    case PagingFormat::kLevel4:
      return 4;
    case PagingFormat::kLevel5:
      return 5;
  }
  return 4;
}

unsigned PageTables::index(uint64_t linear, int level) const {
  if (format_ == PagingFormat::k32Bit) {
    return static_cast<unsigned>((linear >> (level == 2 ? 22 : 12)) & 0x3ff);
  }
  if (format_ == PagingFormat::kPae && level == 3) return static_cast<unsigned>((linear >> 30) & 3);
  return static_cast<unsigned>((linear >> (12 + 9 * (level - 1))) & 0x1ff);
}

uint64_t PageTables::entry_address(uint64_t linear, int level) const {
  uint64_t table = root_;
  for (int l = top_level(); l > level; --l) {
    table = read(table + index(linear, l) * entry_bytes()) & 0x000ffffffffff000ull;
  }
  return table + index(linear, level) * entry_bytes();
}

void PageTables::map(uint64_t linear, uint64_t gpa, uint64_t flags) {
  uint64_t table = root_;
  for (int level = top_level(); level > 1; --level) {
    const uint64_t slot = table + index(linear, level) * entry_bytes();
    uint64_t entry = read(slot);
    if ((entry & kPtePresent) == 0) {
      // PAE PDPTEs take only P; the other levels get P, W and U (the leaf decides).
      const uint64_t bits = format_ == PagingFormat::kPae && level == 3
                                ? kPtePresent
                                : kPtePresent | kPteWritable | kPteUser;
      entry = allocate() | bits;
      write(slot, entry);
    }
    table = entry & 0x000ffffffffff000ull;
  }
  write(table + index(linear, 1) * entry_bytes(), (gpa & ~0xfffull) | flags);
}

}  // namespace ferry::x86::test

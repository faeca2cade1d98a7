// Builds guest page tables in a byte array of guest RAM (at guest-physical 0) for the four
// paging formats, so tests can map linear pages anywhere.
#pragma once

#include <cstdint>
#include <span>

namespace ferry::x86::test {

enum class PagingFormat : uint8_t { k32Bit, kPae, kLevel4, kLevel5 };

constexpr uint64_t kPtePresent = 1, kPteWritable = 2, kPteUser = 4, kPteLarge = 0x80;
constexpr uint64_t kPteNoExecute = 1ull << 63;

class PageTables {
 public:
  /// Tables are allocated from [pool, pool_end) of `ram`.
  PageTables(std::span<uint8_t> ram, PagingFormat format, uint64_t pool, uint64_t pool_end);

  /// The value for CR3.
  uint64_t root() const { return root_; }
  /// Maps the 4 KiB page at `linear` to `gpa` with `flags` on the leaf (and P|W|U above).
  void map(uint64_t linear, uint64_t gpa, uint64_t flags = kPtePresent | kPteWritable);
  /// The entry that maps `linear` at `level` (1 = page table), for tests that corrupt it.
  uint64_t entry_address(uint64_t linear, int level) const;

 private:
  uint64_t allocate();
  uint64_t read(uint64_t gpa) const;
  void write(uint64_t gpa, uint64_t value);
  unsigned entry_bytes() const { return format_ == PagingFormat::k32Bit ? 4 : 8; }
  unsigned index(uint64_t linear, int level) const;
  int top_level() const;

  std::span<uint8_t> ram_;
  PagingFormat format_;
  uint64_t next_;
  uint64_t end_;
  uint64_t root_;
};

}  // namespace ferry::x86::test

// An owned mmap() region, unmapped exactly once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "ferry/base/error.h"

namespace ferry {

class Mapping {
 public:
  Mapping() = default;
  // Anonymous private memory; huge_page_size 0 = normal pages, else MAP_HUGETLB of that size.
  static Expected<Mapping> anonymous(size_t size, size_t huge_page_size = 0);
  // Anonymous private memory of normal pages that starts at a multiple of `alignment` (a power
  // of two), so the kernel can back it with transparent huge pages from the first byte.
  static Expected<Mapping> anonymous_aligned(size_t size, size_t alignment);
  // Maps an fd (a vCPU run page, a VFIO BAR) shared.
  static Expected<Mapping> of_fd(int fd, size_t size, int prot, off_t offset);
  // The same, starting at a multiple of `alignment` (a power of two): a BAR mapped so, and
  // mapped at a guest address aligned alike, can take 2 MiB or 1 GiB page table entries.
  static Expected<Mapping> of_fd_aligned(int fd, size_t size, int prot, off_t offset,
                                         size_t alignment);

  Mapping(Mapping&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  Mapping& operator=(Mapping&& other) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { reset(); }

  uint8_t* data() const { return static_cast<uint8_t*>(data_); }
  size_t size() const { return size_; }
  void reset();

 private:
  Mapping(void* data, size_t size) : data_(data), size_(size) {}
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ferry

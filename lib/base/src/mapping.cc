#include "ferry/base/mapping.h"

#include <linux/mman.h>
#include <sys/mman.h>

#include <bit>
#include <cerrno>

namespace ferry {

Expected<Mapping> Mapping::anonymous(size_t size, size_t huge_page_size) {
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
  if (huge_page_size != 0) {
    if (!std::has_single_bit(huge_page_size)) {
      return fail(Errc::kInvalidArgument, "huge page size {} is not a power of two",
                  huge_page_size);
    }
    // MAP_HUGETLB takes log2 of the page size in the MAP_HUGE_SHIFT bits. No MAP_NORESERVE here:
    // reserving at mmap time turns "no free hugepages" into a clean error instead of a SIGBUS.
    flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
            (std::countr_zero(huge_page_size) << MAP_HUGE_SHIFT);
  }
  void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (data == MAP_FAILED) return fail_errno(errno, "mmap of guest memory");
  return Mapping(data, size);
}

namespace {

// `size` bytes of fresh anonymous private memory with `prot`, starting at a multiple of
// `alignment` (a power of two): over-reserved by the alignment, then the head and the tail
// around the aligned part given back. `what` names the mmap in its error.
Expected<void*> anonymous_at_alignment(size_t size, size_t alignment, int prot, const char* what) {
  if (!std::has_single_bit(alignment)) {
    return fail(Errc::kInvalidArgument, "alignment {} is not a power of two", alignment);
  }
  const size_t padded = size + alignment;
  void* raw = ::mmap(nullptr, padded, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return fail_errno(errno, what);
  const uintptr_t begin = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (begin + alignment - 1) & ~(uintptr_t{alignment} - 1);
  if (aligned > begin) ::munmap(raw, aligned - begin);
  const uintptr_t tail = aligned + size;
  if (begin + padded > tail) ::munmap(reinterpret_cast<void*>(tail), begin + padded - tail);
  return reinterpret_cast<void*>(aligned);
}

}  // namespace

Expected<Mapping> Mapping::anonymous_aligned(size_t size, size_t alignment) {
  FERRY_ASSIGN(void* data, anonymous_at_alignment(size, alignment, PROT_READ | PROT_WRITE,
                                                  "mmap of guest memory"));
  return Mapping(data, size);
}

Expected<Mapping> Mapping::of_fd_aligned(int fd, size_t size, int prot, off_t offset,
                                         size_t alignment) {
  if (alignment <= 4096) return of_fd(fd, size, prot, offset);
  // Aligned address space first, then the fd mapped over exactly that range.
  FERRY_ASSIGN(void* reserved,
               anonymous_at_alignment(size, alignment, PROT_NONE,
                                      "mmap (address space for an aligned mapping)"));
  void* data = ::mmap(reserved, size, prot, MAP_SHARED | MAP_FIXED, fd, offset);
  if (data == MAP_FAILED) {
    const int error = errno;
    ::munmap(reserved, size);
    return fail_errno(error, "mmap");
  }
  return Mapping(data, size);
}

Expected<Mapping> Mapping::of_fd(int fd, size_t size, int prot, off_t offset) {
  void* data = ::mmap(nullptr, size, prot, MAP_SHARED, fd, offset);
  if (data == MAP_FAILED) return fail_errno(errno, "mmap");
  return Mapping(data, size);
}

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  reset();
  data_ = std::exchange(other.data_, nullptr);
  size_ = std::exchange(other.size_, 0);
  return *this;
}

void Mapping::reset() {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace ferry

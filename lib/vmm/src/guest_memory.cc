#include "ferry/vmm/guest_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "ferry/base/checked.h"

namespace ferry::vmm {
namespace {

// -1 when the pool does not exist on this kernel.
long read_pool_count(const std::string& file) {
  std::ifstream in(file);
  long count = -1;
  in >> count;
  return in ? count : -1;
}

constexpr uint64_t kThpSize = 2 * kMiB;
constexpr uint64_t kPopulateChunk = 256 * kMiB;
constexpr const char* kThpSetting = "/sys/kernel/mm/transparent_hugepage/enabled";

// Normal pages the kernel may back with 2 MiB pages: aligned to 2 MiB and madvised.
Expected<Mapping> allocate_thp(uint64_t size) {
  std::ifstream setting(kThpSetting);
  std::string modes;
  std::getline(setting, modes);
  if (!setting || modes.find("[never]") != std::string::npos) {
    return fail(Errc::kUnsupported,
                "memory.hugepages: thp: transparent huge pages are off on this host ({} says "
                "'{}'); echo madvise | sudo tee {}, or choose 2M, 1G or none",
                kThpSetting, modes, kThpSetting);
  }
  FERRY_ASSIGN(Mapping mapping, Mapping::anonymous_aligned(size, kThpSize));
  if (::madvise(mapping.data(), size, MADV_HUGEPAGE) != 0) {
    return fail_errno(errno, "madvise(MADV_HUGEPAGE) of guest memory");
  }
  return mapping;
}

// Backs [data, data+length) writable: MADV_POPULATE_WRITE (Linux 5.14), else a write to each
// page (the value read back, so a page already backed keeps its bytes).
Expected<void> populate_range(uint8_t* data, uint64_t length, uint64_t page_size) {
  if (::madvise(data, length, MADV_POPULATE_WRITE) == 0) return {};
  if (errno != EINVAL) return fail_errno(errno, "madvise(MADV_POPULATE_WRITE) of guest memory");
  for (uint64_t offset = 0; offset < length; offset += page_size) {
    volatile uint8_t* byte = data + offset;
    *byte = *byte;
  }
  return {};
}

}  // namespace

HugepagePool read_hugepage_pool(uint64_t huge_page_size) {
  HugepagePool pool{
      .dir = fmt::format("/sys/kernel/mm/hugepages/hugepages-{}kB", huge_page_size / kKiB)};
  pool.free_pages = read_pool_count(pool.dir + "/free_hugepages");
  pool.total_pages = read_pool_count(pool.dir + "/nr_hugepages");
  return pool;
}

Error hugepage_pool_error(uint64_t size, uint64_t huge_page_size, const HugepagePool& pool,
                          const Error& cause) {
  const long needed = static_cast<long>(size / huge_page_size);
  if (pool.free_pages < 0 || pool.total_pages < 0) {
    return Error(Errc::kUnsupported,
                 fmt::format("memory.hugepages: this host has no {} hugepage pool ({} is "
                             "missing); choose another size or hugepages: none",
                             format_size(huge_page_size), pool.dir));
  }
  if (pool.free_pages >= needed) return cause.context("memory.hugepages");
  // 1 GiB pages rarely come free on a running host: memory is too fragmented by then.
  const std::string at_boot = huge_page_size >= kGiB
                                  ? fmt::format(
                                        " (or reserve them at boot: hugepagesz=1G "
                                        "hugepages={} on the kernel command line)",
                                        pool.total_pages + (needed - pool.free_pages))
                                  : "";
  return Error(Errc::kNoResources,
               fmt::format("memory.hugepages: {} of guest memory needs {} free {} hugepages but "
                           "the host has {} free, {} short. Grow the pool with: echo {} | sudo "
                           "tee {}/nr_hugepages{}, or set memory.hugepages: none",
                           format_size(size), needed, format_size(huge_page_size), pool.free_pages,
                           needed - pool.free_pages, pool.total_pages + (needed - pool.free_pages),
                           pool.dir, at_boot));
}

Expected<GuestMemory> GuestMemory::allocate(uint64_t size, RamBacking backing) {
  const uint64_t huge_page_size = backing.huge_page_size;
  if (size < kMinRamSize || size > kMaxRamSize) {
    return fail(Errc::kInvalidArgument, "memory.size {} is outside {} to {}", format_size(size),
                format_size(kMinRamSize), format_size(kMaxRamSize));
  }
  const uint64_t granule = huge_page_size ? huge_page_size : kPageSize;
  if (!is_aligned(size, granule)) {
    return fail(Errc::kInvalidArgument, "memory.size {} is not a multiple of the {} page size",
                format_size(size), format_size(granule));
  }
  if (backing.transparent_huge_pages && huge_page_size == 0) {
    FERRY_ASSIGN(Mapping mapping, allocate_thp(size));
    return GuestMemory(std::move(mapping), size, kPageSize);
  }
  auto mapping = Mapping::anonymous(size, huge_page_size);
  if (!mapping) {
    if (huge_page_size) {
      return fail(hugepage_pool_error(size, huge_page_size, read_hugepage_pool(huge_page_size),
                                      mapping.error()));
    }
    return fail(
        mapping.error().context(fmt::format("allocating {} of guest memory", format_size(size))));
  }
  return GuestMemory(std::move(*mapping), size, granule);
}

uint8_t* GuestMemory::host_span(uint64_t gpa, uint64_t length) const noexcept {
  for (const RamRange& r : ranges_) {
    if (gpa >= r.gpa && range_fits(gpa - r.gpa, length, r.size)) {
      return mapping_.data() + r.host_offset + (gpa - r.gpa);
    }
  }
  return nullptr;
}

Expected<void> GuestMemory::write(uint64_t gpa, std::span<const uint8_t> bytes) const {
  uint8_t* host = host_span(gpa, bytes.size());
  if (host == nullptr) {
    return fail(Errc::kInvalidArgument, "{:#x}-{:#x} is not inside guest RAM (RAM: {})", gpa,
                gpa + bytes.size(), [&] {
                  std::string s;
                  for (const RamRange& r : ranges_) {
                    s += fmt::format("{}{:#x}-{:#x}", s.empty() ? "" : ", ", r.gpa, r.gpa + r.size);
                  }
                  return s;
                }());
  }
  std::memcpy(host, bytes.data(), bytes.size());
  return {};
}

Expected<void> GuestMemory::zero(uint64_t gpa, uint64_t length) const {
  uint8_t* host = host_span(gpa, length);
  if (host == nullptr) {
    return fail(Errc::kInvalidArgument, "{:#x}+{:#x} is not inside guest RAM", gpa, length);
  }
  std::memset(host, 0, length);
  return {};
}

Expected<void> GuestMemory::map_into(accel::Vm& vm) const {
  for (const RamRange& r : ranges_) {
    FERRY_TRY(vm.map_memory(r.gpa, r.size, mapping_.data() + r.host_offset, true));
  }
  return {};
}

uint64_t GuestMemory::resident_bytes() const {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> present((size_ + page - 1) / page);
  if (::mincore(mapping_.data(), size_, present.data()) != 0) return 0;
  uint64_t pages = 0;
  for (unsigned char p : present) pages += p & 1;
  return pages * page;
}

Expected<void> GuestMemory::populate(unsigned threads, const PopulateObserver& observer) const {
  // Chunks are whole pages of the backing (a 1 GiB hugetlb page is one chunk).
  const uint64_t chunk = std::max(kPopulateChunk, page_size_);
  const auto start = std::chrono::steady_clock::now();
  std::atomic<uint64_t> next{0};
  std::mutex mutex;  // guards done, first_error and the observer's calls
  uint64_t done = 0;
  std::optional<Error> first_error;
  auto work = [&] {
    for (;;) {
      const uint64_t offset = next.fetch_add(chunk);
      if (offset >= size_) return;
      const uint64_t length = std::min(chunk, size_ - offset);
      Expected<void> backed = populate_range(mapping_.data() + offset, length, page_size_);
      std::lock_guard lock(mutex);
      if (!backed) {
        if (!first_error) first_error = backed.error();
        next = size_;  // the others stop after their chunk
        return;
      }
      done += length;
      if (observer) {
        const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
        observer({.done_bytes = done,
                  .total_bytes = size_,
                  .seconds = elapsed.count(),
                  .step = PinStep::kPopulate});
      }
    }
  };
  std::vector<std::thread> workers;
  for (unsigned i = 1; i < std::max(threads, 1u); ++i) workers.emplace_back(work);
  work();
  for (std::thread& t : workers) t.join();
  if (first_error) {
    return fail(first_error->context(
        fmt::format("populating {} of guest memory for DMA", format_size(size_))));
  }
  return {};
}

}  // namespace ferry::vmm

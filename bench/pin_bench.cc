// What pinning guest RAM for DMA costs (issue 13): guest RAM allocated through ferry's own
// vmm::GuestMemory with each backing (4 KiB pages, THP, 2 MiB hugetlbfs, 1 GiB hugetlbfs when
// the pool has the pages), populated on 1 and on N threads, then mapped for DMA through ferry's
// vfio::Container into a real VFIO container (the IOMMU group of --device). Per backing and
// thread count it prints seconds per GiB to populate, to map, and both; then the ratios.
//
// Two more rows per backing answer questions rather than show ferry's path:
//   cold       MAP_DMA of RAM nobody touched: the kernel faults in and zeroes every page on the
//              one ioctl's thread (what ferry did before it populated first);
//   map xN     the populated RAM mapped in N chunks by N threads at once (raw MAP_DMA ioctls on
//              the container's fd): type1 takes its container lock for each whole MAP_DMA, so
//              this shows whether splitting the map over threads helps.
//
//   pin_bench [--size MIB] [--threads N] [--repeats R] [--device BDF] [--no-map]
//
// Run as root it grows the hugepage pools it needs (and shrinks them again at the end).
#include <fmt/format.h>
#include <linux/vfio.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ferry/base/units.h"
#include "ferry/vfio/assignment.h"
#include "ferry/vfio/container.h"
#include "ferry/vfio/group.h"
#include "ferry/vfio/vfio_sys.h"
#include "ferry/vmm/guest_memory.h"
#include "host_info.h"
#include "sample_stats.h"

namespace ferry::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  uint64_t size = 512 * kMiB;
  unsigned threads = 0;  // 0: the CPUs this process may use, at least 2
  int repeats = 3;
  std::string device = "0000:01:00.0";
  bool map = true;
};

struct Backing {
  std::string name;
  vmm::RamBacking ram;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double gib(uint64_t bytes) { return static_cast<double>(bytes) / static_cast<double>(kGiB); }

long read_long(const std::string& file) {
  std::ifstream in(file);
  long value = -1;
  in >> value;
  return in ? value : -1;
}

std::string pool_dir(uint64_t page) {
  return fmt::format("/sys/kernel/mm/hugepages/hugepages-{}kB", page / kKiB);
}

// Pools this run grew, with their size before, to give back at the end.
std::map<std::string, long> grown_pools;

// Makes `pages` free pages of size `page` available, growing the pool when root. Empty when
// they are there, else why not.
std::string reserve_hugepages(uint64_t page, long pages) {
  const std::string dir = pool_dir(page);
  const long free_pages = read_long(dir + "/free_hugepages");
  const long total = read_long(dir + "/nr_hugepages");
  if (free_pages < 0 || total < 0) return fmt::format("this kernel has no {} pool", dir);
  if (free_pages >= pages) return "";
  if (::geteuid() != 0) {
    return fmt::format("{} has {} free pages, {} needed (run as root to grow it)", dir, free_pages,
                       pages);
  }
  if (!grown_pools.contains(dir)) grown_pools[dir] = total;
  std::ofstream(dir + "/nr_hugepages") << total + (pages - free_pages);
  const long now_free = read_long(dir + "/free_hugepages");
  if (now_free >= pages) return "";
  return fmt::format(
      "{}: asked the kernel for {} more pages, it found {} free (memory too "
      "fragmented or too small)",
      dir, pages - free_pages, now_free);
}

void give_back_hugepages() {
  for (const auto& [dir, pages] : grown_pools) std::ofstream(dir + "/nr_hugepages") << pages;
}

// Kilobytes of anonymous memory in THP pages in this process now.
long anon_huge_kib() {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("AnonHugePages:", 0) == 0) return std::strtol(line.c_str() + 14, nullptr, 10);
  }
  return -1;
}

unsigned usable_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return static_cast<unsigned>(CPU_COUNT(&set));
}

// The real VFIO files, remembering the container's fd so that the "map xN" row can issue
// MAP_DMA from several threads itself (vfio::Container serializes its own bookkeeping).
class RecordingSys : public vfio::VfioSys {
 public:
  int open(const char* path) override {
    const int fd = VfioSys::open(path);
    if (std::strcmp(path, "/dev/vfio/vfio") == 0) container_fd = fd;
    return fd;
  }
  int container_fd = -1;
};

// The device's IOMMU group and the container it sits in, for the whole run.
struct Dma {
  RecordingSys sys;
  std::optional<vfio::Container> container;
  std::optional<vfio::Group> group;
};

Expected<unsigned> group_of(const std::string& bdf) {
  std::error_code error;
  const fs::path link = fs::read_symlink("/sys/bus/pci/devices/" + bdf + "/iommu_group", error);
  if (error) {
    return fail(Errc::kNotFound, "{} has no IOMMU group ({}: {})", bdf,
                "/sys/bus/pci/devices/" + bdf + "/iommu_group", error.message());
  }
  return static_cast<unsigned>(std::stoul(link.filename().string()));
}

Expected<void> open_dma(Dma& dma, const std::string& bdf) {
  FERRY_ASSIGN(const unsigned number, group_of(bdf));
  FERRY_ASSIGN(vfio::Container container, vfio::Container::open(dma.sys));
  dma.container.emplace(std::move(container));
  FERRY_ASSIGN(vfio::Group group, vfio::Group::open(dma.sys, number));
  dma.group.emplace(std::move(group));
  return dma.container->add_group(dma.group->fd());
}

struct Sample {
  double populate = 0, map = 0;  // seconds
};

// Maps every RAM range of `memory` through the Container, IOVA = guest physical address.
Expected<double> map_serial(Dma& dma, const vmm::GuestMemory& memory) {
  const auto start = Clock::now();
  for (const vmm::RamRange& r : memory.ranges()) {
    FERRY_TRY(dma.container->map_dma(r.gpa, r.size, memory.host_span(r.gpa, r.size)));
  }
  const double seconds = seconds_since(start);
  dma.container->unmap_all();
  return seconds;
}

// The same mapping cut into `threads` chunks (whole pages of the backing) that as many threads
// map at once with raw MAP_DMA ioctls.
Expected<double> map_parallel(Dma& dma, const vmm::GuestMemory& memory, uint64_t page,
                              unsigned threads) {
  struct Chunk {
    uint64_t iova, size;
    void* host;
  };
  std::vector<Chunk> chunks;
  for (const vmm::RamRange& r : memory.ranges()) {
    const uint64_t step = (r.size / threads + page - 1) / page * page;
    for (uint64_t offset = 0; offset < r.size; offset += step) {
      const uint64_t size = std::min(step, r.size - offset);
      chunks.push_back({r.gpa + offset, size, memory.host_span(r.gpa + offset, size)});
    }
  }
  std::vector<int> results(chunks.size());
  auto map_one = [&](size_t i) {
    vfio_iommu_type1_dma_map map{};
    map.argsz = sizeof map;
    map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
    map.vaddr = reinterpret_cast<uint64_t>(chunks[i].host);
    map.iova = chunks[i].iova;
    map.size = chunks[i].size;
    results[i] = dma.sys.ioctl(dma.sys.container_fd, VFIO_IOMMU_MAP_DMA, &map);
  };
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (size_t i = 1; i < chunks.size(); ++i) workers.emplace_back(map_one, i);
  map_one(0);
  for (std::thread& t : workers) t.join();
  const double seconds = seconds_since(start);
  std::optional<Error> first_error;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (results[i] < 0 && !first_error) {
      first_error = Error::from_errno(-results[i], "VFIO_IOMMU_MAP_DMA on several threads");
    }
    if (results[i] < 0) continue;
    vfio_iommu_type1_dma_unmap unmap{};
    unmap.argsz = sizeof unmap;
    unmap.iova = chunks[i].iova;
    unmap.size = chunks[i].size;
    (void)dma.sys.ioctl(dma.sys.container_fd, VFIO_IOMMU_UNMAP_DMA, &unmap);
  }
  if (first_error) return fail(*first_error);
  return seconds;
}

enum class Row { kPopulateThenMap, kCold, kParallelMap };

// One allocation, populated (unless cold) on `threads` threads and mapped; the memory is freed
// before the next sample.
Expected<Sample> measure(const Options& o, const Backing& b, Dma* dma, Row row, unsigned threads,
                         std::string& note) {
  FERRY_ASSIGN(vmm::GuestMemory memory, vmm::GuestMemory::allocate(o.size, b.ram));
  Sample s;
  if (row != Row::kCold) {
    const auto start = Clock::now();
    FERRY_TRY(memory.populate(threads));
    s.populate = seconds_since(start);
    if (b.ram.transparent_huge_pages) {
      note = fmt::format(
          "{:.0f}% of it in THP pages after populate",
          100.0 * static_cast<double>(anon_huge_kib()) * kKiB / static_cast<double>(o.size));
    }
  }
  if (dma == nullptr) return s;
  const uint64_t page = b.ram.huge_page_size ? b.ram.huge_page_size : vmm::kPageSize;
  if (row == Row::kParallelMap) {
    FERRY_ASSIGN(s.map, map_parallel(*dma, memory, page, threads));
  } else {
    FERRY_ASSIGN(s.map, map_serial(*dma, memory));
  }
  return s;
}

struct Result {
  std::string backing, row;
  unsigned threads;
  Spread populate, map, total;  // seconds per GiB
  std::string note;
};

int run(const Options& o) {
  const unsigned n = o.threads ? o.threads : std::max(2u, usable_cpus());
  fmt::print("pin_bench: {} of guest RAM per sample, {} samples each, N = {} threads\n",
             format_size(o.size), o.repeats, n);
  fmt::print("{}", host_info(""));
  fmt::print("CPUs usable here: {}{}\n", usable_cpus(),
             usable_cpus() < n ? " (fewer than N: the N-thread rows share them)" : "");

  Dma dma;
  Dma* dma_used = nullptr;
  if (o.map) {
    if (auto opened = open_dma(dma, o.device); opened) {
      if (auto memlock = vfio::check_memlock(o.size); !memlock) {
        fmt::print("MAP NOT MEASURED: {}\n", memlock.error().message());
      } else {
        dma_used = &dma;
        fmt::print("DMA: mapped through the VFIO container of {} (IOMMU group {})\n", o.device,
                   dma.group->number());
      }
    } else {
      fmt::print("MAP NOT MEASURED: {} (populate only)\n", opened.error().message());
    }
  }

  std::vector<Backing> backings = {{"4K", {}}, {"THP", {.transparent_huge_pages = true}}};
  for (uint64_t page : {2 * kMiB, kGiB}) {
    const std::string name = page == kGiB ? "1G" : "2M";
    if (o.size % page != 0) {
      fmt::print("{} hugetlbfs: skipped, {} is not a multiple of its page\n", name,
                 format_size(o.size));
      continue;
    }
    const std::string why = reserve_hugepages(page, static_cast<long>(o.size / page));
    if (!why.empty()) {
      fmt::print("{} hugetlbfs: skipped, {}\n", name, why);
      continue;
    }
    backings.push_back({name, {.huge_page_size = page, .transparent_huge_pages = false}});
  }

  // Every sample of every row, taken round by round (each round in the other order than the
  // last), so a slow drift of a shared host or a warming page allocator hits all rows alike.
  struct Plan {
    const Backing* backing;
    Row row;
    unsigned threads;
    const char* name;
    std::vector<double> populate{}, map{}, total{};
    std::string note{};
  };
  std::vector<Plan> plans;
  for (const Backing& b : backings) {
    plans.push_back({&b, Row::kPopulateThenMap, 1, "populate, map"});
    plans.push_back({&b, Row::kPopulateThenMap, n, "populate, map"});
    if (dma_used) {
      plans.push_back({&b, Row::kParallelMap, n, "populate, map xN"});
      plans.push_back({&b, Row::kCold, 1, "cold map"});
    }
  }
  // One round first that is not counted: the first touches of a fresh process and pool.
  for (int round = -1; round < o.repeats; ++round) {
    for (size_t k = 0; k < plans.size(); ++k) {
      Plan& p = plans[round % 2 == 0 ? k : plans.size() - 1 - k];
      auto sample = measure(o, *p.backing, dma_used, p.row, p.threads, p.note);
      if (!sample) {
        fmt::print("{} {} on {}: FAILED: {}\n", p.backing->name, p.name, p.threads,
                   sample.error().message());
        give_back_hugepages();
        return 1;
      }
      if (round < 0) continue;
      const double per_gib = 1 / gib(o.size);
      p.populate.push_back(sample->populate * per_gib);
      p.map.push_back(sample->map * per_gib);
      p.total.push_back((sample->populate + sample->map) * per_gib);
    }
    fmt::print("  round {} of {} done\n", round + 1, o.repeats);
    std::fflush(stdout);
  }
  std::vector<Result> results;
  for (const Plan& p : plans) {
    results.push_back({p.backing->name, p.name, p.threads, spread_of(p.populate), spread_of(p.map),
                       spread_of(p.total), p.note});
  }
  give_back_hugepages();

  fmt::print("\nseconds per GiB, median [quartiles] of {} samples{}\n", o.repeats,
             dma_used ? "" : " (populate only: no VFIO container)");
  fmt::print("{:<5} {:<17} {:>7}  {:<22} {:<22} {:<22}\n", "RAM", "steps", "threads", "populate",
             "map (pin)", "total");
  for (const Result& r : results) {
    fmt::print("{:<5} {:<17} {:>7}  {:<22} {:<22} {:<22}{}\n", r.backing, r.row, r.threads,
               r.row == "cold map" ? "-" : show_spread(r.populate, 3),
               dma_used ? show_spread(r.map, 3) : "-", show_spread(r.total, 3),
               r.note.empty() ? "" : "  " + r.note);
  }

  auto find = [&](const std::string& backing, const std::string& row,
                  unsigned threads) -> const Result* {
    for (const Result& r : results) {
      if (r.backing == backing && r.row == row && r.threads == threads) return &r;
    }
    return nullptr;
  };
  fmt::print("\nratios (medians; > 1: the second is faster)\n");
  for (const char* huge : {"THP", "2M", "1G"}) {
    for (unsigned t : {1u, n}) {
      const Result* small = find("4K", "populate, map", t);
      const Result* big = find(huge, "populate, map", t);
      if (!small || !big) continue;
      fmt::print("  4K / {:<3} on {} thread{}: total {:.2f}x, populate {:.2f}x{}{}\n", huge, t,
                 t == 1 ? "" : "s", small->total.median / big->total.median,
                 small->populate.median / big->populate.median,
                 dma_used ? fmt::format(", map {:.2f}x", small->map.median / big->map.median) : "",
                 std::string(huge) == "2M" ? "   (target: total >= 5x)" : "");
    }
  }
  for (const Result& r : results) {
    if (r.row != "populate, map" || r.threads != 1) continue;
    const Result* many = find(r.backing, "populate, map", n);
    if (!many) continue;
    fmt::print(
        "  {:<3} 1 / {} threads: total {:.2f}x, populate {:.2f}x   (target: >= 1.6x on 2 "
        "cores)\n",
        r.backing, n, r.total.median / many->total.median,
        r.populate.median / many->populate.median);
  }
  if (dma_used) {
    for (const Result& r : results) {
      if (r.row != "populate, map" || r.threads != n) continue;
      if (const Result* split = find(r.backing, "populate, map xN", n)) {
        fmt::print("  {:<3} map on 1 / map in {} chunks on {} threads: {:.2f}x\n", r.backing, n, n,
                   r.map.median / split->map.median);
      }
      if (const Result* cold = find(r.backing, "cold map", 1)) {
        fmt::print("  {:<3} cold map / populate on {} threads then map: {:.2f}x\n", r.backing, n,
                   cold->total.median / r.total.median);
      }
    }
  }
  return 0;
}

int usage() {
  fmt::print(stderr,
             "usage: pin_bench [--size MIB] [--threads N] [--repeats R] [--device BDF] "
             "[--no-map]\n");
  return 2;
}

}  // namespace
}  // namespace ferry::bench

int main(int argc, char** argv) {
  ferry::bench::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--size" && has_value) {
      o.size = std::strtoull(argv[++i], nullptr, 10) * ferry::kMiB;
    } else if (arg == "--threads" && has_value) {
      o.threads = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else if (arg == "--repeats" && has_value) {
      o.repeats = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--device" && has_value) {
      o.device = argv[++i];
    } else if (arg == "--no-map") {
      o.map = false;
    } else {
      return ferry::bench::usage();
    }
  }
  if (o.size == 0) return ferry::bench::usage();
  return ferry::bench::run(o);
}

// The exit benchmark (issue: ferry foundation). Runs the exitloop guest under a minimal raw KVM
// loop (the limit), ferry, and QEMU when installed, each as a fresh process, and prints in one
// run: microseconds per port and MMIO exit, the ratios, time from process start to the guest's
// first instruction and to exit, and resident memory.
//
// Per-exit cost = (wall time with N exits - wall time with none) / N. The table shows the best
// of several runs. The ratios are medians of paired ratios: each round runs every runner back
// to back on the same workload (in alternating order), so slow drifts of a nested host hit the
// pair alike, and the median ignores the rounds a noise burst hit.
#include <fmt/format.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "child_run.h"
#include "ferry/guests/exitloop.h"
#include "ferry/vmm/builtin_payloads.h"
#include "raw_kvm_loop.h"

namespace ferry::bench {
namespace {

namespace fs = std::filesystem;

struct Options {
  uint32_t exits = 50000;
  int reps = 21;
  bool pin = true;
  std::string ferry = FERRY_BINARY;
  std::string qemu;  // found on PATH unless given
};

struct Runner {
  std::string name;
  std::function<std::vector<std::string>(const std::string& image)> command;
  int expected_status;
  // Best-of results.
  double idle_ms = 1e18, first_output_ms = 1e18, pio_ms = 1e18, mmio_ms = 1e18;
  std::vector<double> pio_samples_ms{}, mmio_samples_ms{};  // per round, for the paired ratios
  long peak_rss_kib = 0;
  long overhead_kib = -1;  // ferry only: the largest of every run
};

std::vector<uint8_t> exitloop_image(uint32_t pio, uint32_t mmio) {
  auto image = vmm::find_builtin_payload("exitloop")->image;
  std::vector<uint8_t> bytes(image.begin(), image.end());
  std::memcpy(&bytes[FERRY_EXITLOOP_PIO_COUNT_OFFSET], &pio, 4);
  std::memcpy(&bytes[FERRY_EXITLOOP_MMIO_COUNT_OFFSET], &mmio, 4);
  return bytes;
}

std::string write_file(const fs::path& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
  return path.string();
}

std::string find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    fs::path candidate = fs::path(dirs.substr(start, end - start)) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return "";
}

std::optional<Options> parse_options(int argc, char** argv) {
  Options o;
  o.qemu = find_on_path("qemu-system-x86_64");
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--exits") {
      o.exits = static_cast<uint32_t>(std::strtoul(next().c_str(), nullptr, 10));
    } else if (arg == "--reps") {
      o.reps = std::atoi(next().c_str());
    } else if (arg == "--ferry") {
      o.ferry = next();
    } else if (arg == "--qemu") {
      o.qemu = next();
    } else if (arg == "--no-qemu") {
      o.qemu.clear();
    } else if (arg == "--no-pin") {
      o.pin = false;
    } else {
      std::fprintf(stderr,
                   "usage: exit_bench [--exits N] [--reps R] [--ferry PATH] [--qemu PATH | "
                   "--no-qemu] [--no-pin]\n");
      return std::nullopt;
    }
  }
  if (o.exits == 0 || o.reps < 1) return std::nullopt;
  return o;
}

// Runs one command; dies loudly when the guest did not run as expected.
ChildRun run_checked(const Runner& runner, const std::string& image) {
  ChildRun run = run_child(runner.command(image));
  if (!run.ok || run.status != runner.expected_status ||
      run.out.find(FERRY_EXITLOOP_MARKER) == std::string::npos) {
    std::fprintf(stderr, "%s did not run the guest (status %d)\nstdout: %s\nstderr: %s\n",
                 runner.name.c_str(), run.status, run.out.c_str(), run.err.c_str());
    std::exit(1);
  }
  return run;
}

void measure(std::vector<Runner>& runners, const Options& o, const fs::path& dir) {
  const std::string idle = write_file(
      dir / "idle.bin",
      std::string(reinterpret_cast<const char*>(exitloop_image(0, 0).data()), FERRY_EXITLOOP_SIZE));
  const std::string pio = write_file(
      dir / "pio.bin", std::string(reinterpret_cast<const char*>(exitloop_image(o.exits, 0).data()),
                                   FERRY_EXITLOOP_SIZE));
  const std::string mmio =
      write_file(dir / "mmio.bin",
                 std::string(reinterpret_cast<const char*>(exitloop_image(0, o.exits).data()),
                             FERRY_EXITLOOP_SIZE));
  const std::regex overhead("\"overhead_kib\":([0-9]+)");
  for (int rep = 0; rep < 3 * o.reps; ++rep) {
    for (Runner& r : runners) {
      ChildRun run = run_checked(r, idle);
      r.idle_ms = std::min(r.idle_ms, run.total_ms);
      r.first_output_ms = std::min(r.first_output_ms, run.first_output_ms);
      r.peak_rss_kib = std::max(r.peak_rss_kib, run.peak_rss_kib);
      std::smatch m;
      if (std::regex_search(run.err, m, overhead)) {
        r.overhead_kib = std::max(r.overhead_kib, std::stol(m[1]));  // the worst run counts
      }
    }
  }
  auto run_all = [&](const std::string& image, double Runner::*best,
                     std::vector<double> Runner::*samples, bool reversed) {
    for (size_t i = 0; i < runners.size(); ++i) {
      Runner& r = runners[reversed ? runners.size() - 1 - i : i];
      const double ms = run_checked(r, image).total_ms;
      r.*best = std::min(r.*best, ms);
      (r.*samples).push_back(ms);
    }
  };
  for (int rep = 0; rep < o.reps; ++rep) {
    run_all(pio, &Runner::pio_ms, &Runner::pio_samples_ms, rep % 2 == 1);
    run_all(mmio, &Runner::mmio_ms, &Runner::mmio_samples_ms, rep % 2 == 1);
    std::fprintf(stderr, "  round %d of %d done\n", rep + 1, o.reps);
  }
}

// Every runner on the same CPU (the children inherit it): a process that migrates mid-run
// takes the cost of cold caches, and on a nested host the CPUs do not run alike. Returns the CPU.
int pin_to_last_cpu() {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -1;
  for (int cpu = CPU_SETSIZE - 1; cpu >= 0; --cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return sched_setaffinity(0, sizeof one, &one) == 0 ? cpu : -1;
  }
  return -1;
}

double per_exit_us(double with_ms, double idle_ms, uint32_t exits) {
  return (with_ms - idle_ms) * 1000.0 / exits;
}

struct PairedRatio {
  double median, low, high;  // low and high: the quartiles
};

// a's per-exit cost over b's, round by round, each against its runner's best idle time.
PairedRatio paired_ratio(const Runner& a, const Runner& b, std::vector<double> Runner::*samples,
                         uint32_t exits) {
  std::vector<double> ratios;
  for (size_t i = 0; i < (a.*samples).size(); ++i) {
    ratios.push_back(per_exit_us((a.*samples)[i], a.idle_ms, exits) /
                     per_exit_us((b.*samples)[i], b.idle_ms, exits));
  }
  std::sort(ratios.begin(), ratios.end());
  auto at = [&](double q) { return ratios[static_cast<size_t>(q * (ratios.size() - 1) + 0.5)]; };
  return {at(0.5), at(0.25), at(0.75)};
}

std::string show(const PairedRatio& r) {
  return fmt::format("{:.3f}x [{:.3f}-{:.3f}]", r.median, r.low, r.high);
}

const char* verdict(bool met) { return met ? "met" : "MISSED"; }

void report(const std::vector<Runner>& runners, const Options& o) {
  const Runner& raw = runners[0];
  const Runner& raw_lapic = runners[1];
  const Runner& ferry = runners[2];
  const Runner* qemu = runners.size() > 3 ? &runners[3] : nullptr;
  fmt::print(
      "\nferry exit benchmark: exitloop guest (16-bit), {} exits per run, {} rounds, {}; table: "
      "best run;\nratios: median of the rounds' paired ratios [quartiles]\n\n",
      o.exits, o.reps, o.pin ? "pinned to one CPU" : "not pinned");
  fmt::print("{:<34}", "");
  for (const Runner& r : runners) fmt::print("{:>16}", r.name);
  fmt::print("\n");
  auto row = [&](const char* label, auto value) {
    fmt::print("{:<34}", label);
    for (const Runner& r : runners) fmt::print("{:>16.2f}", value(r));
    fmt::print("\n");
  };
  row("port I/O exit (us)",
      [&](const Runner& r) { return per_exit_us(r.pio_ms, r.idle_ms, o.exits); });
  row("MMIO exit (us)",
      [&](const Runner& r) { return per_exit_us(r.mmio_ms, r.idle_ms, o.exits); });
  row("start -> first instruction (ms)", [](const Runner& r) { return r.first_output_ms; });
  row("start -> exit (ms)", [](const Runner& r) { return r.idle_ms; });
  row("peak resident memory (MiB)", [](const Runner& r) { return r.peak_rss_kib / 1024.0; });

  const PairedRatio pio_ratio = paired_ratio(ferry, raw, &Runner::pio_samples_ms, o.exits);
  const PairedRatio mmio_ratio = paired_ratio(ferry, raw, &Runner::mmio_samples_ms, o.exits);
  fmt::print("\nferry / raw loop, per exit: port I/O {}, MMIO {}   (target <= 1.03x: {})\n",
             show(pio_ratio), show(mmio_ratio),
             verdict(pio_ratio.median <= 1.03 && mmio_ratio.median <= 1.03));
  fmt::print("ferry / raw loop with the same in-kernel LAPIC: port I/O {}, MMIO {}\n",
             show(paired_ratio(ferry, raw_lapic, &Runner::pio_samples_ms, o.exits)),
             show(paired_ratio(ferry, raw_lapic, &Runner::mmio_samples_ms, o.exits)));
  if (qemu) {
    const double startup = qemu->idle_ms / ferry.idle_ms;
    fmt::print("QEMU / ferry, per exit: port I/O {}, MMIO {}\n",
               show(paired_ratio(*qemu, ferry, &Runner::pio_samples_ms, o.exits)),
               show(paired_ratio(*qemu, ferry, &Runner::mmio_samples_ms, o.exits)));
    fmt::print(
        "QEMU / ferry, start -> first instruction: {:.1f}x; start -> exit: {:.1f}x   "
        "(target >= 10x: {})\n",
        qemu->first_output_ms / ferry.first_output_ms, startup, verdict(startup >= 10));
  } else {
    fmt::print("QEMU: not found (apt-get install qemu-system-x86 to compare)\n");
  }
  fmt::print(
      "ferry resident memory beyond guest RAM, worst run: {} KiB   (target <= 4096 KiB: "
      "{})\n",
      ferry.overhead_kib, verdict(ferry.overhead_kib >= 0 && ferry.overhead_kib <= 4096));
}

int bench_main(int argc, char** argv) {
  if (argc == 3 && std::strncmp(argv[1], "--raw-child", 11) == 0) {
    std::ifstream in(argv[2], std::ios::binary);
    std::vector<uint8_t> image((std::istreambuf_iterator<char>(in)), {});
    return run_raw_kvm_loop(image, std::strcmp(argv[1], "--raw-child-lapic") == 0);
  }
  std::optional<Options> o = parse_options(argc, argv);
  if (!o) return 2;
  const fs::path dir = fs::temp_directory_path() / fmt::format("ferry-bench-{}", ::getpid());
  fs::create_directories(dir);
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  std::vector<Runner> runners;
  runners.push_back({"raw KVM loop",
                     [self](const std::string& image) {
                       return std::vector<std::string>{self, "--raw-child", image};
                     },
                     0});
  runners.push_back({"raw + LAPIC",
                     [self](const std::string& image) {
                       return std::vector<std::string>{self, "--raw-child-lapic", image};
                     },
                     0});
  runners.push_back({"ferry",
                     [ferry = o->ferry, dir](const std::string& image) {
                       const std::string spec =
                           write_file(dir / (fs::path(image).stem().string() + ".yaml"),
                                      "memory: 2M\npayload: {file: " + image +
                                          ", format: flat, load_address: 0xf0000, mode: real}\n");
                       return std::vector<std::string>{ferry, "run", spec, "--stats"};
                     },
                     0});
  if (!o->qemu.empty()) {
    // isa-debug-exit makes QEMU exit with (value << 1) | 1: 1 for the guest's 0.
    runners.push_back({"QEMU -accel kvm",
                       [qemu = o->qemu](const std::string& image) {
                         return std::vector<std::string>{qemu,
                                                         "-accel",
                                                         "kvm",
                                                         "-M",
                                                         "pc",
                                                         "-nodefaults",
                                                         "-no-user-config",
                                                         "-display",
                                                         "none",
                                                         "-m",
                                                         "16",
                                                         "-bios",
                                                         image,
                                                         "-serial",
                                                         "stdio",
                                                         "-device",
                                                         "isa-debug-exit,iobase=0xf4,iosize=1"};
                       },
                       1});
  }
  if (o->pin) {
    const int cpu = pin_to_last_cpu();
    if (cpu < 0) {
      std::perror("sched_setaffinity");
      return 1;
    }
    std::fprintf(stderr, "every runner pinned to CPU %d (--no-pin to let them move)\n", cpu);
  }
  std::fprintf(stderr, "measuring (this takes a while: %u exits per run)...\n", o->exits);
  measure(runners, *o, dir);
  report(runners, *o);
  fs::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace ferry::bench

int main(int argc, char** argv) { return ferry::bench::bench_main(argc, argv); }

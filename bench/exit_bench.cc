// The exit benchmark (issue: ferry foundation). Runs the exitloop guest under a minimal raw KVM
// loop (the limit), ferry, and QEMU's pc and microvm machines when installed, each as a fresh
// process, and prints in one run: microseconds per port and MMIO exit, time from process start
// to the guest's first instruction and to exit, resident memory, and the ratios.
//
// Per-exit cost = (wall time with N exits - the runner's median wall time with none) / N. Every
// sample is printed; each runner's figures are the median with the quartiles. The ratios are
// medians of paired ratios: each round runs every runner back to back on the same workload (in
// alternating order), so slow drifts of a nested host hit the pair alike.
#include <fmt/format.h>
#include <sched.h>
#include <unistd.h>

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
#include "host_info.h"
#include "raw_kvm_loop.h"
#include "sample_stats.h"

namespace ferry::bench {
namespace {

namespace fs = std::filesystem;

// The guest's port writes besides its loop: the marker to COM1 and the byte to the exit port.
constexpr uint64_t kFixedPioExits = 2;

struct Options {
  uint32_t exits = 50000;
  int reps = 21;
  std::string cpus;  // empty: no pinning
  std::string ferry = FERRY_BINARY;
  std::string qemu;  // found on PATH unless given
  bool no_qemu = false;
};

struct Runner {
  std::string name;
  std::function<std::vector<std::string>(const std::string& image)> command;
  int expected_status;
  bool counts_exits;  // prints {"pio":P,"mmio":M} on stderr: ferry --stats, the raw loops
  // Every run, in the order taken.
  std::vector<double> idle_ms{}, first_output_ms{}, pio_ms{}, mmio_ms{};
  std::vector<double> peak_rss_mib{};
  long overhead_kib = -1;        // ferry only: the largest of every run
  uint64_t other_exits_max = 0;  // exits that were neither PIO nor MMIO (interrupts), worst run
};

struct Image {
  std::string path;
  uint32_t pio, mmio;  // the loop counts patched in
};

Image write_image(const fs::path& path, uint32_t pio, uint32_t mmio) {
  auto image = vmm::find_builtin_payload("exitloop")->image;
  std::vector<char> bytes(image.begin(), image.end());
  bytes.resize(FERRY_EXITLOOP_SIZE);
  std::memcpy(&bytes[FERRY_EXITLOOP_PIO_COUNT_OFFSET], &pio, 4);
  std::memcpy(&bytes[FERRY_EXITLOOP_MMIO_COUNT_OFFSET], &mmio, 4);
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return {path.string(), pio, mmio};
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
      o.no_qemu = true;
    } else if (arg == "--cpus") {
      o.cpus = next();
    } else {
      std::fprintf(stderr,
                   "usage: exit_bench [--exits N] [--reps R] [--ferry PATH] [--qemu PATH | "
                   "--no-qemu] [--cpus LIST]\n");
      return std::nullopt;
    }
  }
  if (o.exits == 0 || o.reps < 1) return std::nullopt;
  return o;
}

// Pins this process and so every runner it starts (all their threads) to the CPUs in LIST
// ("1", "0-1", "0,2"). Returns false on a bad list or a refusal.
bool pin_to(const std::string& list) {
  cpu_set_t set;
  CPU_ZERO(&set);
  const std::regex item("([0-9]+)(?:-([0-9]+))?");
  for (std::sregex_iterator it(list.begin(), list.end(), item), end; it != end; ++it) {
    const int first = std::stoi((*it)[1]);
    const int last = (*it)[2].matched ? std::stoi((*it)[2]) : first;
    for (int cpu = first; cpu <= last && cpu < CPU_SETSIZE; ++cpu) CPU_SET(cpu, &set);
  }
  return CPU_COUNT(&set) > 0 && sched_setaffinity(0, sizeof set, &set) == 0;
}

std::optional<uint64_t> json_count(const std::string& text, const char* key) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(fmt::format("\"{}\":([0-9]+)", key)))) {
    return std::nullopt;
  }
  return std::stoull(m[1]);
}

// Why a run did not do what the guest should have; empty when it did.
std::string run_problem(const Runner& runner, const Image& image, const ChildRun& run) {
  if (!run.ok || run.status != runner.expected_status) {
    return fmt::format("exit status {} (expected {})", run.status, runner.expected_status);
  }
  if (run.out.find(FERRY_EXITLOOP_MARKER) == std::string::npos) return "no marker on stdout";
  if (!runner.counts_exits) return "";
  const auto pio = json_count(run.err, "pio"), mmio = json_count(run.err, "mmio");
  if (!pio || !mmio) return "no exit counts on stderr";
  if (*pio != image.pio + kFixedPioExits || *mmio != image.mmio) {
    return fmt::format(
        "counted {} PIO and {} MMIO exits; the image makes {} + {} PIO exits (its loop, the "
        "marker and the exit port) and {} MMIO exits",
        *pio, *mmio, image.pio, kFixedPioExits, image.mmio);
  }
  return "";
}

// Runs one command; dies loudly when the guest did not run as expected.
ChildRun run_checked(Runner& runner, const Image& image) {
  ChildRun run = run_child(runner.command(image.path));
  if (const std::string problem = run_problem(runner, image, run); !problem.empty()) {
    std::fprintf(stderr, "%s did not run %s as it should: %s\nstdout: %s\nstderr: %s\n",
                 runner.name.c_str(), image.path.c_str(), problem.c_str(), run.out.c_str(),
                 run.err.c_str());
    std::exit(1);
  }
  if (auto overhead = json_count(run.err, "overhead_kib")) {
    runner.overhead_kib = std::max(runner.overhead_kib, static_cast<long>(*overhead));
  }
  if (auto exits = json_count(run.err, "exits")) {
    const uint64_t io = image.pio + kFixedPioExits + image.mmio;
    if (*exits > io) runner.other_exits_max = std::max(runner.other_exits_max, *exits - io);
  }
  return run;
}

void measure(std::vector<Runner>& runners, const Options& o, const fs::path& dir) {
  const Image idle = write_image(dir / "idle.bin", 0, 0);
  const Image pio = write_image(dir / "pio.bin", o.exits, 0);
  const Image mmio = write_image(dir / "mmio.bin", 0, o.exits);
  for (int rep = 0; rep < o.reps; ++rep) {
    const bool reversed = rep % 2 == 1;
    auto each = [&](auto&& f) {
      for (size_t i = 0; i < runners.size(); ++i) f(runners[reversed ? runners.size() - 1 - i : i]);
    };
    each([&](Runner& r) {
      ChildRun run = run_checked(r, idle);
      r.idle_ms.push_back(run.total_ms);
      r.first_output_ms.push_back(run.first_output_ms);
      r.peak_rss_mib.push_back(static_cast<double>(run.peak_rss_kib) / 1024.0);
    });
    each([&](Runner& r) { r.pio_ms.push_back(run_checked(r, pio).total_ms); });
    each([&](Runner& r) { r.mmio_ms.push_back(run_checked(r, mmio).total_ms); });
    std::fprintf(stderr, "  round %d of %d done\n", rep + 1, o.reps);
  }
}

std::vector<double> per_exit_us(const Runner& r, std::vector<double> Runner::*samples,
                                uint32_t exits) {
  const double idle = spread_of(r.idle_ms).median;
  std::vector<double> us;
  for (double ms : r.*samples) us.push_back((ms - idle) * 1000.0 / exits);
  return us;
}

// a's samples over b's, round by round.
Spread paired(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> ratios;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) ratios.push_back(a[i] / b[i]);
  return spread_of(ratios);
}

struct Metric {
  const char* label;
  int decimals;
  std::function<std::vector<double>(const Runner&)> samples;
};

void report(const std::vector<Runner>& runners, const Options& o) {
  const std::vector<Metric> metrics = {
      {"start -> first output, the guest's first instruction (ms)", 2,
       [](const Runner& r) { return r.first_output_ms; }},
      {"start -> exit, image with no exits (ms)", 2, [](const Runner& r) { return r.idle_ms; }},
      {"port I/O exit (us)", 3,
       [&](const Runner& r) { return per_exit_us(r, &Runner::pio_ms, o.exits); }},
      {"MMIO exit (us)", 3,
       [&](const Runner& r) { return per_exit_us(r, &Runner::mmio_ms, o.exits); }},
      {"peak resident memory (MiB)", 2, [](const Runner& r) { return r.peak_rss_mib; }},
  };
  fmt::print(
      "\nraw samples, in the order taken (per exit: (run - the runner's median run with no "
      "exits) / {}):\n",
      o.exits);
  for (const Metric& m : metrics) {
    fmt::print("  {}\n", m.label);
    for (const Runner& r : runners) {
      fmt::print("    {:<18}{}\n", r.name, show_samples(m.samples(r), m.decimals));
    }
  }
  fmt::print("\neach runner: median [quartiles] (min-max) of {} runs\n", o.reps);
  for (const Metric& m : metrics) {
    fmt::print("  {}\n", m.label);
    for (const Runner& r : runners) {
      const Spread s = spread_of(m.samples(r));
      fmt::print("    {:<18}{:>26}   ({:.{}f}-{:.{}f})\n", r.name, show_spread(s, m.decimals),
                 s.min, m.decimals, s.max, m.decimals);
    }
  }

  const Runner& raw = runners[0];
  const Runner& raw_lapic = runners[1];
  const Runner& ferry = runners[2];
  auto exit_ratio = [&](const Runner& a, const Runner& b, std::vector<double> Runner::*samples) {
    return paired(per_exit_us(a, samples, o.exits), per_exit_us(b, samples, o.exits));
  };
  fmt::print("\nratios: median [quartiles] of the {} rounds' paired ratios\n", o.reps);
  const Spread pio = exit_ratio(ferry, raw, &Runner::pio_ms);
  const Spread mmio = exit_ratio(ferry, raw, &Runner::mmio_ms);
  fmt::print("ferry / raw loop, per exit: port I/O {}, MMIO {}\n", show_spread(pio, 3),
             show_spread(mmio, 3));
  const auto at_most_1_03 = [](double ratio) { return ratio <= 1.03; };
  fmt::print("  target <= 1.03x: port I/O {}; MMIO {}\n", verdict(pio, at_most_1_03),
             verdict(mmio, at_most_1_03));
  fmt::print("ferry / raw loop with the same in-kernel LAPIC, per exit: port I/O {}, MMIO {}\n",
             show_spread(exit_ratio(ferry, raw_lapic, &Runner::pio_ms), 3),
             show_spread(exit_ratio(ferry, raw_lapic, &Runner::mmio_ms), 3));
  for (size_t i = 3; i < runners.size(); ++i) {
    const Runner& qemu = runners[i];
    fmt::print("{} / ferry, per exit: port I/O {}, MMIO {}\n", qemu.name,
               show_spread(exit_ratio(qemu, ferry, &Runner::pio_ms), 3),
               show_spread(exit_ratio(qemu, ferry, &Runner::mmio_ms), 3));
    const Spread startup = paired(qemu.idle_ms, ferry.idle_ms);
    fmt::print("{} / ferry, start -> first output: {}; start -> exit: {}\n", qemu.name,
               show_spread(paired(qemu.first_output_ms, ferry.first_output_ms), 1),
               show_spread(startup, 1));
    fmt::print("  target: start -> exit >= 10x: {}\n",
               verdict(startup, [](double ratio) { return ratio >= 10; }));
  }
  fmt::print(
      "ferry resident memory beyond guest RAM (--stats overhead_kib), worst run: {} KiB   "
      "(target <= 4096 KiB: {})\n",
      ferry.overhead_kib, ferry.overhead_kib >= 0 && ferry.overhead_kib <= 4096 ? "met" : "MISSED");
  std::string counted, other;
  for (const Runner& r : runners) {
    if (!r.counts_exits) continue;
    counted += (counted.empty() ? "" : ", ") + r.name;
    other += fmt::format("{}{} {}", other.empty() ? "" : "; ", r.name, r.other_exits_max);
  }
  fmt::print(
      "exit counts checked on every run ({}): each had exactly the image's port writes + {} (the "
      "marker and the exit port) PIO exits and its reads as MMIO exits ({} or 0 of each); QEMU's "
      "exits are not counted\n",
      counted, kFixedPioExits, o.exits);
  fmt::print("other exits (neither PIO nor MMIO, e.g. host interrupts), worst run: {}\n", other);
}

std::vector<std::string> qemu_command(const std::string& qemu, const std::string& machine,
                                      const std::string& image) {
  // isa-debug-exit makes QEMU exit with (value << 1) | 1: 1 for the guest's 0.
  return {qemu,
          "-accel",
          "kvm",
          "-M",
          machine,
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
}

int bench_main(int argc, char** argv) {
  if (argc == 3 && std::strncmp(argv[1], "--raw-child", 11) == 0) {
    std::ifstream in(argv[2], std::ios::binary);
    std::vector<uint8_t> image((std::istreambuf_iterator<char>(in)), {});
    return run_raw_kvm_loop(image, std::strcmp(argv[1], "--raw-child-lapic") == 0);
  }
  std::optional<Options> o = parse_options(argc, argv);
  if (!o) return 2;
  fmt::print(
      "ferry exit benchmark: exitloop guest (32-bit protected mode loops), {} exits per "
      "run, {} rounds\n{}",
      o->exits, o->reps, host_info(o->qemu));
  if (!o->cpus.empty()) {
    if (!pin_to(o->cpus)) {
      std::fprintf(stderr, "cannot pin to CPUs %s\n", o->cpus.c_str());
      return 1;
    }
    fmt::print("pinning: every runner, all its threads, to CPUs {}\n", o->cpus);
  } else {
    fmt::print("pinning: none (--cpus LIST pins every runner to the same CPUs)\n");
  }
  std::fflush(stdout);
  const fs::path dir = fs::temp_directory_path() / fmt::format("ferry-bench-{}", ::getpid());
  fs::create_directories(dir);
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  std::vector<Runner> runners;
  runners.push_back({"raw KVM loop",
                     [self](const std::string& image) {
                       return std::vector<std::string>{self, "--raw-child", image};
                     },
                     0, true});
  runners.push_back({"raw + LAPIC",
                     [self](const std::string& image) {
                       return std::vector<std::string>{self, "--raw-child-lapic", image};
                     },
                     0, true});
  runners.push_back({"ferry",
                     [ferry = o->ferry, dir](const std::string& image) {
                       const std::string spec =
                           write_file(dir / (fs::path(image).stem().string() + ".yaml"),
                                      "memory: 2M\npayload: {file: " + image +
                                          ", format: flat, load_address: 0xf0000, mode: real}\n");
                       return std::vector<std::string>{ferry, "run", spec, "--stats"};
                     },
                     0, true});
  if (o->qemu.empty()) {
    fmt::print("QEMU: {}\n", o->no_qemu ? "left out (--no-qemu)"
                                        : "not found (apt-get install qemu-system-x86 to compare)");
  } else {
    // microvm as one picks it for start time: no option ROMs, no legacy PIT, PIC or RTC; its
    // ISA serial port stays, for the marker.
    const std::pair<const char*, const char*> machines[] = {
        {"QEMU pc", "pc"},
        {"QEMU microvm", "microvm,x-option-roms=off,pit=off,pic=off,rtc=off,isa-serial=on"}};
    const Image probe = write_image(dir / "probe.bin", 1, 1);
    for (const auto& [name, machine] : machines) {
      Runner r{name,
               [qemu = o->qemu, machine = std::string(machine)](const std::string& image) {
                 return qemu_command(qemu, machine, image);
               },
               1, false};
      const ChildRun run = run_child(r.command(probe.path));
      if (const std::string problem = run_problem(r, probe, run); !problem.empty()) {
        fmt::print("{} (-M {}) cannot run the image, left out: {}; its stderr: {}\n", name, machine,
                   problem, run.err);
        continue;
      }
      fmt::print("{}: -M {}\n", name, machine);
      runners.push_back(std::move(r));
    }
  }
  std::fflush(stdout);
  std::fprintf(stderr, "measuring (this takes a while: %u exits per run)...\n", o->exits);
  measure(runners, *o, dir);
  report(runners, *o);
  fs::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace ferry::bench

int main(int argc, char** argv) { return ferry::bench::bench_main(argc, argv); }

// The Linux boot benchmark (issue 12): the time from a VMM's process start to the guest's first
// user-space instruction, ferry against QEMU `-kernel` on the same kernel, initramfs and command
// line. The guest's init (linux_boot_init.c) prints a marker line with the guest kernel's own
// clock (CLOCK_BOOTTIME) and powers off; the time to init is from just before fork to the whole
// marker line on the VMM's stdout.
//
// The limit: the guest kernel's own share, its CLOCK_BOOTTIME at init (the kernel's clock starts
// early in its setup, at kvm-clock's set-up), which no VMM can remove. Total minus that is the
// VMM's share: its own start, loading the kernel and initrd, firmware (QEMU's), the kernel's
// decompression and earliest setup, and the console line's way out. Every sample is printed;
// ratios are medians of paired ratios, each round running every VMM back to back (in alternating
// order) so a nested host's drifts hit them alike.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "child_run.h"
#include "host_info.h"
#include "linux_boot_logic.h"
#include "sample_stats.h"

namespace ferry::bench {
namespace {

namespace fs = std::filesystem;

// Firecracker's published figure for a minimal kernel: 125 ms from process start to init.
constexpr double kFirecrackerInitMs = 125;
constexpr double kTargetRatio = 1.5;
// The lab's marker file (scripts/lab writes /lab/vfio-devices in every session).
constexpr const char* kLabMarker = "/lab/vfio-devices";

struct Options {
  int reps = 5;
  int timeout_s = 120;
  std::string kernel;
  std::string init = FERRY_LINUX_BOOT_INIT;
  std::string ferry = FERRY_BINARY;
  std::string qemu;
  bool no_qemu = false;
  bool show_console = false;  // print each VMM's console (its first boot, not timed)
  std::string cmdline = "console=ttyS0 panic=-1 quiet";
};

struct Runner {
  std::string name;
  std::vector<std::string> command;
  // Every run, in the order taken.
  std::vector<double> to_init_ms{}, kernel_ms{}, vmm_ms{}, to_end_ms{};
  int killed = 0;  // runs that did not end by themselves within the grace after the marker
  std::vector<int> statuses{};
};

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
  if (fs::exists("/lab/vmlinuz")) o.kernel = "/lab/vmlinuz";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--reps") {
      o.reps = std::atoi(next().c_str());
    } else if (arg == "--timeout") {
      o.timeout_s = std::atoi(next().c_str());
    } else if (arg == "--kernel") {
      o.kernel = next();
    } else if (arg == "--init") {
      o.init = next();
    } else if (arg == "--ferry") {
      o.ferry = next();
    } else if (arg == "--qemu") {
      o.qemu = next();
    } else if (arg == "--no-qemu") {
      o.qemu.clear();
      o.no_qemu = true;
    } else if (arg == "--show-console") {
      o.show_console = true;
    } else if (arg == "--cmdline") {
      o.cmdline = next();
    } else {
      std::fprintf(stderr,
                   "usage: linux_boot_bench [--kernel BZIMAGE] [--reps N] [--timeout SEC] "
                   "[--init STATIC_INIT] [--ferry PATH] [--qemu PATH | --no-qemu] "
                   "[--cmdline TEXT] [--show-console]\n");
      return std::nullopt;
    }
  }
  if (o.reps < 1 || o.timeout_s < 1) return std::nullopt;
  return o;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string write_file(const fs::path& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
  return path.string();
}

// A paging-based KVM (kvm-pvm) cannot boot a stock kernel (docs/lab.md): why not, or empty.
std::string why_this_kvm_cannot_boot_linux() {
  if (!fs::exists("/sys/module/kvm_pvm")) return "";
  if (fs::exists("/sys/module/kvm_intel") || fs::exists("/sys/module/kvm_amd")) return "";
  return "this host's KVM is kvm-pvm, on which a stock Linux kernel hangs after decompression "
         "(docs/lab.md); `FERRY_KVM=lab ./dev bench` measures it in the lab";
}

std::vector<std::string> qemu_command(const Options& o, const std::string& machine,
                                      const std::string& initrd, const std::string& bios) {
  std::vector<std::string> command = {o.qemu,
                                      "-accel",
                                      "kvm",
                                      "-M",
                                      machine,
                                      "-cpu",
                                      "host",
                                      "-m",
                                      "256",
                                      "-smp",
                                      "1",
                                      "-nodefaults",
                                      "-no-user-config",
                                      "-display",
                                      "none",
                                      "-serial",
                                      "stdio",
                                      "-no-reboot",
                                      "-kernel",
                                      o.kernel,
                                      "-initrd",
                                      initrd,
                                      "-append",
                                      o.cmdline};
  if (!bios.empty()) command.insert(command.end(), {"-bios", bios});
  return command;
}

// One boot; what went wrong (empty when it booted to init) is returned, the numbers recorded.
std::string boot_once(Runner& r, int timeout_s, bool record, std::string* console = nullptr) {
  const int grace_ms = timeout_s * 1000;
  const WatchedRun run = run_child_until(
      r.command, [](const std::string& out) { return marker_line_end(out).has_value(); },
      timeout_s * 1000, grace_ms);
  if (!run.started) return "could not start it (pipe or fork failed)";
  if (console) *console = run.out + run.err;
  // Its last words: a missing firmware file, a kernel panic.
  auto tail = [](const std::string& text) {
    return text.size() > 1500 ? "..." + text.substr(text.size() - 1500) : text;
  };
  if (run.timed_out) {
    return fmt::format("no marker line from init {}\n  its stderr: {}\n  its stdout: {}",
                       run.ended_ms < 0
                           ? fmt::format("within {} s (killed)", timeout_s)
                           : fmt::format("before it ended (exit status {})", run.status),
                       tail(run.err), tail(run.out));
  }
  const std::optional<double> kernel = marker_boottime_ms(run.out);
  if (!kernel) return "the marker line has no readable boottime: " + tail(run.out);
  if (record) {
    r.to_init_ms.push_back(run.until_ms);
    r.kernel_ms.push_back(*kernel);
    r.vmm_ms.push_back(run.until_ms - *kernel);
    if (run.ended_ms >= 0) r.to_end_ms.push_back(run.ended_ms);
    if (run.ended_ms < 0) ++r.killed;
    r.statuses.push_back(run.status);
  }
  return "";
}

// a's samples over b's, round by round.
Spread paired(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> ratios;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) ratios.push_back(a[i] / b[i]);
  return spread_of(ratios);
}

struct Metric {
  const char* label;
  std::vector<double> Runner::*samples;
};

void report(const std::vector<Runner>& runners, const Options& o) {
  const Metric metrics[] = {
      {"start -> init's marker line (ms)", &Runner::to_init_ms},
      {"the kernel's own share: its CLOCK_BOOTTIME at init, the limit (ms)", &Runner::kernel_ms},
      {"the VMM's share: start -> init minus the kernel's share (ms)", &Runner::vmm_ms},
      {"start -> the VMM's exit after the guest's power-off (ms)", &Runner::to_end_ms},
  };
  fmt::print("\nraw samples, in the order taken:\n");
  for (const Metric& m : metrics) {
    fmt::print("  {}\n", m.label);
    for (const Runner& r : runners)
      fmt::print("    {:<14}{}\n", r.name, show_samples(r.*m.samples, 1));
  }
  fmt::print("\neach VMM: median [quartiles] (min-max) of {} runs\n", o.reps);
  for (const Metric& m : metrics) {
    fmt::print("  {}\n", m.label);
    for (const Runner& r : runners) {
      const Spread s = spread_of(r.*m.samples);
      fmt::print("    {:<14}{:>24}   ({:.1f}-{:.1f})\n", r.name, show_spread(s, 1), s.min, s.max);
    }
  }
  for (const Runner& r : runners) {
    std::string statuses;
    for (int s : r.statuses) statuses += fmt::format(" {}", s);
    fmt::print("{}: exit statuses{}; killed after {} s without ending by itself: {} of {}\n",
               r.name, statuses, o.timeout_s, r.killed, r.statuses.size());
  }

  const Runner& ferry = runners[0];
  fmt::print("\nratios: median [quartiles] of the {} rounds' paired ratios\n", o.reps);
  for (const Runner& r : runners) {
    fmt::print("{} / the limit (start -> init over the kernel's own share): {}\n", r.name,
               show_spread(paired(r.to_init_ms, r.kernel_ms), 2));
  }
  for (size_t i = 1; i < runners.size(); ++i) {
    const Runner& qemu = runners[i];
    const Spread total = paired(ferry.to_init_ms, qemu.to_init_ms);
    fmt::print("ferry / {}: start -> init {}; the VMM's share {}\n", qemu.name,
               show_spread(total, 2), show_spread(paired(ferry.vmm_ms, qemu.vmm_ms), 2));
    fmt::print("  target: ferry ahead of {} (ratio < 1): {}\n", qemu.name,
               verdict(total, [](double ratio) { return ratio < 1; }));
  }
  std::vector<double> against_firecracker;
  for (double ms : ferry.to_init_ms) against_firecracker.push_back(ms / kFirecrackerInitMs);
  const Spread fc = spread_of(against_firecracker);
  fmt::print("ferry / {:.0f} ms (Firecracker's start -> init, minimal kernel): {}\n",
             kFirecrackerInitMs, show_spread(fc, 2));
  fmt::print("  target <= {:.1f}x: {}\n", kTargetRatio,
             verdict(fc, [](double ratio) { return ratio <= kTargetRatio; }));
}

int bench_main(int argc, char** argv) {
  std::optional<Options> o = parse_options(argc, argv);
  if (!o) return 2;
  const bool in_lab = fs::exists(kLabMarker);
  fmt::print("ferry Linux boot benchmark: VMM process start -> the guest's init, {} rounds\n{}",
             o->reps, host_info(o->qemu));
  const bool have_kvm = fs::exists("/dev/kvm");
  fmt::print("where: {}\n",
             in_lab ? "inside the lab (scripts/lab): nested kvm-amd under QEMU TCG, an emulated "
                      "CPU; these are nested-TCG numbers, not a real-host claim"
             : have_kvm ? "this host's own /dev/kvm"
                        : "this host, which has no /dev/kvm");
  if (!have_kvm) {
    fmt::print("not measured: no /dev/kvm here; ./dev bench runs it in the lab's nested KVM\n");
    return 1;
  }
  if (const std::string why = why_this_kvm_cannot_boot_linux(); !why.empty()) {
    fmt::print("not measured: {}\n", why);
    return 0;
  }
  if (o->kernel.empty()) {
    std::fprintf(stderr,
                 "linux_boot_bench: no kernel: --kernel BZIMAGE (the lab's: scripts/lab-kernel "
                 "--path; inside the lab /lab/vmlinuz is the default)\n");
    return 2;
  }
  const std::string init = read_file(o->init);
  if (init.size() < 4 || init.compare(0, 4, "\177ELF") != 0) {
    std::fprintf(stderr, "linux_boot_bench: %s is not the static init (linux_boot_init)\n",
                 o->init.c_str());
    return 2;
  }
  const fs::path dir = fs::temp_directory_path() / fmt::format("ferry-boot-bench-{}", ::getpid());
  fs::create_directories(dir);
  const std::string initrd = write_file(
      dir / "initramfs.cpio",
      newc_archive(
          {{.name = "dev", .mode = 040755, .rdev_major = 0, .rdev_minor = 0, .data = ""},
           {.name = "dev/console", .mode = 020600, .rdev_major = 5, .rdev_minor = 1, .data = ""},
           {.name = "init", .mode = 0100755, .rdev_major = 0, .rdev_minor = 0, .data = init}}));
  fmt::print(
      "kernel: {} ({} bytes)\ninitramfs: /dev/console and a static /init ({} bytes, {}) "
      "that prints the marker and powers off: {} bytes, uncompressed\n",
      o->kernel, fs::file_size(o->kernel), init.size(), o->init, fs::file_size(initrd));
  fmt::print("guest: 1 vCPU, 256 MiB, command line \"{}\", console on COM1 to the VMM's stdout\n",
             o->cmdline);

  std::vector<Runner> runners;
  const std::string spec = write_file(
      dir / "linux.yaml",
      fmt::format("version: 1\nname: linux-boot-bench\nvcpus: 1\nmemory: 256M\n"
                  "payload:\n  kernel: {}\n  initrd: {}\n  cmdline: \"{}\"\nserial: stdout\n",
                  o->kernel, initrd, o->cmdline));
  runners.push_back({.name = "ferry", .command = {o->ferry, "run", spec}});
  std::string console;
  if (const std::string problem = boot_once(runners[0], o->timeout_s, false, &console);
      !problem.empty()) {
    std::fprintf(stderr, "linux_boot_bench: ferry (%s run %s) did not boot to init: %s\n",
                 o->ferry.c_str(), spec.c_str(), problem.c_str());
    fs::remove_all(dir);
    return 1;
  }
  fmt::print(
      "ferry: {} run SPEC (vcpus 1, memory 256M, serial stdout, payload kernel/initrd/"
      "cmdline)\n",
      o->ferry);
  if (o->show_console) fmt::print("ferry's console and stderr (first boot):\n{}\n", console);
  if (o->qemu.empty()) {
    fmt::print("QEMU: {}\n", o->no_qemu ? "left out (--no-qemu)"
                                        : "not found (apt-get install qemu-system-x86 to compare)");
  } else {
    // microvm as one picks it for start time: no option ROMs (qboot loads the kernel from
    // fw_cfg itself), no legacy PIT, PIC or RTC; its ISA serial port stays, for the console.
    // Its firmware is named: qboot, which Debian's default bios-microvm.bin links to (a
    // symbolic link the lab's --include does not keep).
    struct Machine {
      const char *name, *machine, *bios;
    };
    const Machine machines[] = {
        {"QEMU q35", "q35", ""},
        {"QEMU microvm", "microvm,x-option-roms=off,pit=off,pic=off,rtc=off,isa-serial=on",
         "qboot.rom"}};
    for (const auto& [name, machine, bios] : machines) {
      Runner r{.name = name, .command = qemu_command(*o, machine, initrd, bios)};
      if (const std::string problem = boot_once(r, o->timeout_s, false, &console);
          !problem.empty()) {
        fmt::print("{} (-M {}) cannot boot this kernel to init, left out: {}\n", name, machine,
                   problem);
        continue;
      }
      fmt::print("{}: {}\n", name, fmt::join(r.command, " "));
      if (o->show_console) fmt::print("{}'s console and stderr (first boot):\n{}\n", name, console);
      runners.push_back(std::move(r));
    }
  }
  std::fflush(stdout);
  for (int rep = 0; rep < o->reps; ++rep) {
    const bool reversed = rep % 2 == 1;
    for (size_t i = 0; i < runners.size(); ++i) {
      Runner& r = runners[reversed ? runners.size() - 1 - i : i];
      if (const std::string problem = boot_once(r, o->timeout_s, true); !problem.empty()) {
        std::fprintf(stderr, "linux_boot_bench: %s failed in round %d: %s\n", r.name.c_str(),
                     rep + 1, problem.c_str());
        fs::remove_all(dir);
        return 1;
      }
    }
    std::fprintf(stderr, "  round %d of %d done\n", rep + 1, o->reps);
  }
  report(runners, *o);
  fs::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace ferry::bench

int main(int argc, char** argv) { return ferry::bench::bench_main(argc, argv); }

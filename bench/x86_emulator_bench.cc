// How long lib/x86 takes to emulate a typical MMIO store (decode + execute), against one PIO exit
// round trip on real KVM measured in the same run. The target: under 5% of an exit.
//
//   x86_emulator_bench [iterations [rounds]]
//
// Every round's samples are printed; the figures are medians with their quartiles.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ferry/kvm/kvm_hypervisor.h"
#include "ferry/vmm/boot_state.h"
#include "ferry/vmm/cpuid.h"
#include "ferry/vmm/guest_memory.h"
#include "ferry/x86/emulator.h"
#include "host_info.h"
#include "sample_stats.h"

namespace {

using Clock = std::chrono::steady_clock;
using ferry::Expected;

constexpr uint64_t kRamSize = 64ull << 20;
constexpr uint64_t kCode = 0x100000;
constexpr uint64_t kMmio = 0xfebf0000;  // a BAR-like address in the 3-4 GiB device hole

// What a backend's platform does: guest RAM through GuestMemory, MMIO to a device that only
// swallows the data.
class BenchPlatform : public ferry::x86::Platform {
 public:
  explicit BenchPlatform(const ferry::vmm::GuestMemory& memory) : memory_(memory) {}
  bool read_ram(uint64_t gpa, std::span<uint8_t> data) noexcept override {
    const uint8_t* host = memory_.host_span(gpa, data.size());
    if (host == nullptr) return false;
    std::memcpy(data.data(), host, data.size());
    return true;
  }
  bool write_ram(uint64_t gpa, std::span<const uint8_t> data) noexcept override {
    uint8_t* host = memory_.host_span(gpa, data.size());
    if (host == nullptr) return false;
    std::memcpy(host, data.data(), data.size());
    return true;
  }
  void mmio_read(uint64_t, std::span<uint8_t> data) noexcept override {
    std::memset(data.data(), 0, data.size());
  }
  void mmio_write(uint64_t, std::span<const uint8_t> data) noexcept override {
    sink_ = sink_ + data[0];
  }

 private:
  const ferry::vmm::GuestMemory& memory_;
  volatile uint8_t sink_ = 0;
};

// What an MSHV backend does with the GPA its intercept message carries (identity-mapped here).
class InterceptTranslator : public ferry::x86::Translator {
 public:
  Expected<ferry::x86::Translation> translate(const ferry::x86::CpuState&, uint64_t linear,
                                              ferry::x86::AccessIntent) override {
    return ferry::x86::Translation{.ok = true, .gpa = linear, .error_code = 0};
  }
};

class CountingIo : public ferry::accel::GuestIo {
 public:
  void mmio_read(uint64_t, std::span<uint8_t>) noexcept override {}
  void mmio_write(uint64_t, std::span<const uint8_t>) noexcept override {}
  void pio_read(uint16_t, std::span<uint8_t>) noexcept override {}
  void pio_write(uint16_t port, std::span<const uint8_t>) noexcept override {
    if (port == 0x81) done = true;
  }
  bool done = false;
};

// A long-mode VM set up the way ferry boots payloads (lib/vmm boot tables and entry state).
struct LongModeVm {
  std::unique_ptr<ferry::accel::Hypervisor> hypervisor;
  std::unique_ptr<ferry::accel::Vm> vm;
  ferry::vmm::GuestMemory memory;
  std::unique_ptr<ferry::accel::Vcpu> vcpu;
};

Expected<LongModeVm> create_vm() {
  FERRY_ASSIGN(auto hypervisor, ferry::kvm::KvmHypervisor::open());
  FERRY_ASSIGN(auto vm, hypervisor->create_vm({.vcpus = 1}));
  FERRY_ASSIGN(auto memory, ferry::vmm::GuestMemory::allocate(kRamSize));
  FERRY_TRY(memory.map_into(*vm));
  FERRY_TRY(ferry::vmm::write_boot_tables(memory, ferry::vmm::BootMode::kLong, false));
  FERRY_ASSIGN(auto vcpu, vm->create_vcpu(0));
  // The CPUID ferry gives its vCPUs: newer kernels refuse long-mode EFER without LM in it.
  FERRY_ASSIGN(auto cpuid, hypervisor->supported_cpuid());
  FERRY_TRY(vcpu->set_cpuid(ferry::vmm::vcpu_cpuid(cpuid, 0)));
  return LongModeVm{std::move(hypervisor), std::move(vm), std::move(memory), std::move(vcpu)};
}

double emulate_ns(ferry::x86::Emulator& emulator, const ferry::x86::CpuState& start,
                  uint64_t iterations) {
  const uint8_t mov[] = {0x89, 0x18};  // mov [rax], ebx
  ferry::x86::CpuState state = start;
  const auto begin = Clock::now();
  for (uint64_t i = 0; i < iterations; ++i) {
    state.regs.rip = kCode;
    auto outcome = emulator.emulate(state, mov);
    if (!outcome || outcome->kind != ferry::x86::Outcome::Kind::kDone) {
      fmt::print(stderr, "emulation failed\n");
      std::exit(1);
    }
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - begin).count() /
         static_cast<double>(iterations);
}

// ns per PIO exit round trip: the guest does `exits` OUTs to port 0x80, then one to 0x81.
Expected<double> pio_exit_ns(LongModeVm& machine, uint64_t exits) {
  // loop: out 0x80, al; dec rcx; jnz loop; out 0x81, al
  const uint8_t code[] = {0xe6, 0x80, 0x48, 0xff, 0xc9, 0x75, 0xf9, 0xe6, 0x81};
  FERRY_TRY(machine.memory.write(kCode, code));
  FERRY_TRY(ferry::vmm::set_entry_state(*machine.vcpu, ferry::vmm::BootMode::kLong, kCode, 0, 1));
  FERRY_ASSIGN(auto regs, machine.vcpu->get_regs());
  regs.rcx = exits;
  FERRY_TRY(machine.vcpu->set_regs(regs));
  CountingIo io;
  const auto begin = Clock::now();
  uint64_t runs = 0;
  while (!io.done) {
    FERRY_ASSIGN(const ferry::accel::Exit exit, machine.vcpu->run(io));
    if (exit.kind != ferry::accel::ExitKind::kHandled) {
      return ferry::fail(ferry::Errc::kInternal, "unexpected exit kind {}",
                         static_cast<int>(exit.kind));
    }
    ++runs;
  }
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - begin).count();
  return ns / static_cast<double>(runs);
}

}  // namespace

int main(int argc, char** argv) {
  using ferry::bench::show_samples;
  using ferry::bench::show_spread;
  using ferry::bench::spread_of;
  using ferry::bench::verdict;
  const auto under_5 = [](double percent) { return percent < 5; };
  const uint64_t iterations = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : 1'000'000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 11;
  constexpr uint64_t kExits = 100'000;
  if (iterations == 0 || rounds < 1) {
    fmt::print(stderr, "usage: x86_emulator_bench [iterations [rounds]]\n");
    return 2;
  }
  fmt::print("x86 emulator benchmark: {} rounds of {} emulations and {} PIO exits each\n{}", rounds,
             iterations, kExits, ferry::bench::host_info(""));
  std::fflush(stdout);
  auto machine = create_vm();
  if (!machine) {
    fmt::print(stderr, "cannot create a KVM VM: {}\n", machine.error().message());
    return 1;
  }
  // The emulator sees the state and page tables the vCPU runs with.
  ferry::x86::CpuState state;
  auto entry =
      ferry::vmm::set_entry_state(*machine->vcpu, ferry::vmm::BootMode::kLong, kCode, 0, 1);
  auto regs = machine->vcpu->get_regs();
  auto sregs = machine->vcpu->get_special_regs();
  if (!entry || !regs || !sregs) {
    const auto& error = !entry ? entry.error() : !regs ? regs.error() : sregs.error();
    fmt::print(stderr, "cannot set up the vCPU ({}): {}\n",
               !entry  ? "entry state"
               : !regs ? "registers"
                       : "special registers",
               error.message());
    return 1;
  }
  state.regs = *regs;
  state.sregs = *sregs;
  state.regs.rax = kMmio + 0x10;
  state.regs.rbx = 0x12345678;
  BenchPlatform platform(machine->memory);
  ferry::x86::Emulator walking(platform);
  InterceptTranslator translator;
  ferry::x86::Emulator given_gpa(platform, translator);
  // Without the decode cache: every emulation decodes with Zydis (a first, cold trap).
  ferry::x86::Emulator uncached(platform, ferry::x86::EmulatorOptions{.decode_cache = false});
  emulate_ns(walking, state, iterations / 10);  // warm up

  // Interleaved rounds, so load on the machine hits the emulation and the exit of a round alike.
  std::vector<double> walk_ns, gpa_ns, cold_ns, exit_ns;
  for (int round = 0; round < rounds; ++round) {
    walk_ns.push_back(emulate_ns(walking, state, iterations));
    gpa_ns.push_back(emulate_ns(given_gpa, state, iterations));
    cold_ns.push_back(emulate_ns(uncached, state, iterations));
    auto exit = pio_exit_ns(*machine, kExits);
    if (!exit) {
      fmt::print(stderr, "cannot measure a PIO exit on KVM: {}\n", exit.error().message());
      return 1;
    }
    exit_ns.push_back(*exit);
  }
  // Each round's emulation time as a percentage of the same round's exit.
  auto percent_of_exit = [&](const std::vector<double>& ns) {
    std::vector<double> percent;
    for (size_t i = 0; i < ns.size(); ++i) percent.push_back(100 * ns[i] / exit_ns[i]);
    return percent;
  };
  const auto walk_pct = percent_of_exit(walk_ns), gpa_pct = percent_of_exit(gpa_ns),
             cold_pct = percent_of_exit(cold_ns);
  struct Row {
    const char* label;
    const std::vector<double>& samples;
  };
  const Row rows[] = {
      {"mov [rax], ebx to MMIO, page walk (ferry's boot tables), decode cache hit (ns)", walk_ns},
      {"the same, GPA given (MSHV intercept), decode cache hit (ns)", gpa_ns},
      {"the same, page walk, no decode cache (Zydis every time) (ns)", cold_ns},
      {"one PIO exit round trip on KVM (OUT, userspace, back) (ns)", exit_ns},
      {"emulation / PIO exit, page walk, cached (%)", walk_pct},
      {"emulation / PIO exit, GPA given, cached (%)", gpa_pct},
      {"emulation / PIO exit, no decode cache (%)", cold_pct},
  };
  fmt::print("\nraw samples, one per round, in the order taken:\n");
  for (const Row& r : rows) fmt::print("  {}\n   {}\n", r.label, show_samples(r.samples, 2));
  fmt::print("\nmedian [quartiles] (min-max) of {} rounds:\n", rounds);
  for (const Row& r : rows) {
    const ferry::bench::Spread s = spread_of(r.samples);
    fmt::print("  {:<80} {} ({:.2f}-{:.2f})\n", r.label, show_spread(s, 2), s.min, s.max);
  }
  fmt::print(
      "target < 5% of an exit: page walk, cached: {}; GPA given, cached: {}; no decode "
      "cache: {}\n",
      verdict(spread_of(walk_pct), under_5), verdict(spread_of(gpa_pct), under_5),
      verdict(spread_of(cold_pct), under_5));
  return 0;
}

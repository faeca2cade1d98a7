// Fuzzes ferry's device models as a guest sees them: a stream of MMIO and port reads and writes of
// every width (1-8 bytes, and 3, 5 and 16 where the bus takes them), aligned or not, against one
// platform with every model ferry has: the IOAPIC, COM1's 16550, the exit port, the test device,
// the PCI host bridge through both configuration mechanisms (ports 0xcf8/0xcfc and ECAM), two PCI
// test devices (BARs, ROM, MSI-X table and PBA) and a host NVMe assigned through VFIO (its
// configuration-space split, MSI-X table and PBA) over the fake VFIO of test/vfio. Besides the
// guest's accesses a stream can fire the NVMe's MSI-X vectors (the hardware's side), drive an
// IOAPIC pin and end an interrupt (the vCPU's EOI exit).
//
// Beyond ASan, UBSan and LeakSanitizer it checks, and aborts with a message when one fails:
//   - memory: the heap never grows by more than kGrowthCap over the built platform during an
//     input, and after teardown it is back where it was. A guest runs forever, so nothing it does
//     may grow ferry without bound: a repeat op (the guest's `rep outs`) runs one access up to
//     65536 times, so a model that keeps as little as a byte per access trips the cap in one op;
//   - fds: every fd the platform opened is closed after teardown;
//   - the accelerator contract (FakeVm): routing tables hold each GSI once and at most kGsiLimit;
//     an irqfd is assigned only to a GSI whose route is committed, a route never leaves while
//     its irqfd is assigned, the same eventfd is never assigned twice, device memory mappings
//     never overlap and are removed exactly as made; after teardown no route, irqfd or mapping
//     is left;
//   - the kernel's VFIO rules (FakeVfio's rule violations) hold, and every VFIO fd is closed;
//   - the 16550's receive FIFO never holds more than 16 bytes.
//
// Input: a sequence of ops, each [target][control][offset: 4 bytes][value: width bytes, writes],
// where control is width (bits 0-2), write (bit 3), repeat (bit 4: one more byte r, the op runs
// r + 1 times for r < 128, else 512 * (r - 127) times; a write's first byte counts up each time).
// Each input builds the platform anew.
#include <fcntl.h>
#include <poll.h>
#include <sanitizer/allocator_interface.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "fake_vfio.h"
#include "ferry/base/mapping.h"
#include "ferry/base/units.h"
#include "ferry/bus/bus.h"
#include "ferry/guests/testdev.h"
#include "ferry/irq/ioapic.h"
#include "ferry/irq/msi_route_table.h"
#include "ferry/pci/config_ports.h"
#include "ferry/pci/config_regs.h"
#include "ferry/pci/ecam.h"
#include "ferry/pci/pci_test_device.h"
#include "ferry/pci/root_complex.h"
#include "ferry/vfio/assignment.h"
#include "ferry/vmm/memory_layout.h"
#include "ferry/vmm/pci_platform.h"
#include "ferry/vmm/platform_devices.h"
#include "ferry/vmm/serial_16550.h"

namespace {

using namespace ferry;

// Heap growth over the built platform, at any time. What the models legitimately hold peaked at
// under 2 KiB over the corpus of a 5-minute run (routes, irqfds, bus tables).
constexpr size_t kGrowthCap = 32 * 1024;
constexpr size_t kMaxAccesses = 1 << 18;  // per input, repeats included: bounds the run time
constexpr unsigned kPhysicalAddressBits = 48;

// Heap growth as coverage: libFuzzer keeps an input that grows the heap into a new power of two
// (its extra counters, cleared before each input), so the search climbs towards the cap rather
// than needing one mutation that lands past it.
__attribute__((section("__libfuzzer_extra_counters"))) uint8_t g_growth_feature[64];

[[noreturn]] void violated(const char* what, uint64_t detail = 0) {
  std::fprintf(stderr, "device model fuzzer: %s (%#llx)\n", what,
               static_cast<unsigned long long>(detail));
  std::abort();
}

size_t heap_bytes() { return __sanitizer_get_current_allocated_bytes(); }

size_t open_fds() {
  size_t n = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  while (const dirent* e = ::readdir(dir)) n += e->d_name[0] != '.';
  ::closedir(dir);
  return n;  // the directory's own fd included, every time alike
}

// An accelerator VM that holds the platform to the contract a real one enforces (see above).
class FakeVm final : public accel::Vm {
 public:
  Expected<std::unique_ptr<accel::Vcpu>> create_vcpu(unsigned) override {
    return fail(Errc::kUnsupported, "no vCPUs in the fuzzer");
  }
  Expected<void> map_memory(uint64_t gpa, uint64_t size, void*, bool) override {
    return add_mapping(gpa, size);
  }
  Expected<void> map_device_memory(uint64_t gpa, uint64_t size, void*) override {
    return add_mapping(gpa, size);
  }
  Expected<void> unmap_memory(uint64_t gpa, uint64_t size) override {
    auto it = mappings_.find(gpa);
    if (it == mappings_.end() || it->second != size) violated("unmap of no such mapping", gpa);
    mappings_.erase(it);
    return {};
  }
  Expected<void> set_msi_routes(std::span<const accel::MsiRoute> routes) override {
    if (routes.size() > irq::kGsiLimit) violated("routing table over the GSI limit", routes.size());
    std::set<uint32_t> gsis;
    for (const accel::MsiRoute& r : routes) {
      if (r.gsi >= irq::kGsiLimit || !gsis.insert(r.gsi).second)
        violated("bad or twice GSI", r.gsi);
    }
    for (const auto& [fd, gsi] : irqfds_) {
      if (!gsis.contains(gsi)) violated("route removed under an assigned irqfd", gsi);
    }
    routed_ = std::move(gsis);
    return {};
  }
  Expected<void> register_irqfd(int eventfd, uint32_t gsi, std::optional<int>) override {
    if (!routed_.contains(gsi)) violated("irqfd assigned to a GSI without a route", gsi);
    if (!irqfds_.emplace(eventfd, gsi).second) violated("eventfd assigned twice", gsi);
    return {};
  }
  Expected<void> unregister_irqfd(int eventfd, uint32_t gsi) override {
    auto it = irqfds_.find(eventfd);
    if (it == irqfds_.end() || it->second != gsi) violated("deassign of no such irqfd", gsi);
    irqfds_.erase(it);
    return {};
  }
  accel::IrqfdPairing irqfd_pairing() const override { return accel::IrqfdPairing::kWhenBothExist; }
  Expected<void> register_ioeventfd(const accel::IoEventFd&) override { return {}; }
  Expected<void> unregister_ioeventfd(const accel::IoEventFd&) override { return {}; }
  Expected<std::unique_ptr<accel::VfioBridge>> create_vfio_bridge() override {
    return std::unique_ptr<accel::VfioBridge>(std::make_unique<Bridge>());
  }

  void check_torn_down() const {
    if (!routed_.empty()) violated("routes left after teardown", routed_.size());
    if (!irqfds_.empty()) violated("irqfds left after teardown", irqfds_.size());
    if (!mappings_.empty()) violated("mappings left after teardown", mappings_.begin()->first);
  }

 private:
  class Bridge final : public accel::VfioBridge {
   public:
    Expected<void> add_group(int) override { return {}; }
    Expected<void> remove_group(int) override { return {}; }
  };
  Expected<void> add_mapping(uint64_t gpa, uint64_t size) {
    for (const auto& [at, length] : mappings_) {
      if (gpa < at + length && at < gpa + size) violated("overlapping memory mapping", gpa);
    }
    mappings_.emplace(gpa, size);
    return {};
  }

  std::set<uint32_t> routed_;
  std::map<int, uint32_t> irqfds_;
  std::map<uint64_t, uint64_t> mappings_;
};

enum class Space : uint8_t { kMmio, kPio };

// What an op aims at: a fixed window, or one BAR of an endpoint wherever it is now.
struct Target {
  Space space = Space::kMmio;
  uint64_t base = 0;
  uint64_t span = 0;
  pci::Endpoint* endpoint = nullptr;  // a BAR: base follows it
  unsigned bar = 0;
};

// The machine lib/vmm's Machine builds (add_platform_devices, then a root complex as create_pci
// does), on a FakeVm and a FakeVfio. Members are declared in the Machine's order, so teardown runs
// in its order too; the VM and the VFIO files outlive it, to be checked after.
struct Platform {
  Platform(FakeVm& vm, test::FakeVfio& vfio) : vm(vm), vfio(vfio) {}

  FakeVm& vm;
  test::FakeVfio& vfio;
  irq::MsiRouteTable routes{vm};
  std::shared_ptr<irq::Ioapic> ioapic;
  bus::Bus mmio{"mmio"};
  bus::Bus pio{"port"};
  std::unique_ptr<pci::RootComplex> root;
  Mapping ram;
  std::unique_ptr<vfio::Assignment> assignment;
  std::vector<std::shared_ptr<pci::Endpoint>> endpoints;
  std::vector<Target> targets;
  unsigned exits = 0;

  Expected<void> build();
};

Expected<void> Platform::build() {
  FERRY_ASSIGN(vmm::PlatformDevices platform,
               vmm::add_platform_devices(
                   mmio, pio, routes, vmm::SerialOutput::discard(), [this](uint8_t) { ++exits; },
                   {.power_off = [this] { ++exits; }, .reset = [this] { ++exits; }}));
  ioapic = std::move(platform.ioapic);

  const pci::RootComplexLayout layout{.windows = vmm::pci_windows(64 * kMiB, kPhysicalAddressBits),
                                      .ecam_base = vmm::kPciEcamBase,
                                      .ecam_size = vmm::kPciEcamSize,
                                      .excluded = {},
                                      .mmio64_end = {}};
  FERRY_ASSIGN(root, pci::RootComplex::create(mmio, pio, layout));
  FERRY_ASSIGN(ram, Mapping::anonymous(64 * kKiB));
  FERRY_ASSIGN(assignment, vfio::Assignment::create(
                               vm, {{.gpa = 0, .size = ram.size(), .host = ram.data()}}, vfio));
  FERRY_ASSIGN(auto first, pci::PciTestDevice::create(root->bar_spaces(), routes));
  endpoints.push_back(first);
  FERRY_ASSIGN(auto nvme, assignment->assign("0000:01:00.0", 12, routes, root->bar_spaces()));
  endpoints.push_back(nvme);
  FERRY_ASSIGN(auto second, pci::PciTestDevice::create(root->bar_spaces(), routes));
  endpoints.push_back(second);
  // As ferry places them: the first test device on bus 0; the NVMe and the second test device
  // each alone below a root port (buses 1 and 2), so the ports' registers are in reach too.
  FERRY_TRY(root->add(first, std::nullopt));
  FERRY_TRY(root->add_behind_port(nvme, std::nullopt));
  FERRY_TRY(root->add_behind_port(second, std::nullopt));

  targets = {
      {Space::kMmio, vmm::kIoapicAddress, irq::Ioapic::kMmioSize},
      {Space::kPio, vmm::kCom1Port, vmm::kUartPorts},
      {Space::kPio, FERRY_EXIT_PORT, 1},
      {Space::kPio, pci::ConfigPorts::kBase, pci::ConfigPorts::kSize},
      {Space::kMmio, vmm::kPciEcamBase, 3 * pci::Ecam::kBytesPerBus},  // buses 0-2, the functions
      {Space::kMmio, vmm::kPciEcamBase, vmm::kPciEcamSize},
      {Space::kMmio, FERRY_TESTDEV_BASE, FERRY_TESTDEV_SIZE},
  };
  for (const auto& endpoint : endpoints) {
    for (unsigned index = 0; index <= pci::kRomIndex; ++index) {
      const auto spec = endpoint->bar(index);
      if (!spec) continue;
      targets.push_back({spec->kind == pci::BarKind::kIo ? Space::kPio : Space::kMmio, 0,
                         spec->size, endpoint.get(), index});
    }
  }
  return {};
}

// Where BAR `index` of `e` answers now: its mapping, else the address programmed in it.
uint64_t bar_base(pci::Endpoint& e, unsigned index) {
  if (auto at = e.bar_mapping(index)) return *at;
  if (index == pci::kRomIndex) return e.config_read(pci::kRomBar, 4) & pci::kRomAddressMask;
  const uint16_t reg = pci::kBar0 + 4 * index;
  const uint32_t low = e.config_read(reg, 4);
  if (low & pci::kBarIo) return low & ~3u;
  uint64_t address = low & ~0xfu;
  if ((low & 6) == pci::kBarMemory64) address |= uint64_t{e.config_read(reg + 4, 4)} << 32;
  return address;
}

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}
  bool done() const { return at_ >= data_.size(); }
  uint64_t take(unsigned bytes) {
    uint64_t value = 0;
    for (unsigned i = 0; i < bytes; ++i, ++at_) {
      if (at_ < data_.size()) value |= uint64_t{data_[at_]} << (8 * i);
    }
    return value;
  }
  void take(std::span<uint8_t> out) {
    for (uint8_t& b : out) b = static_cast<uint8_t>(take(1));
  }

 private:
  std::span<const uint8_t> data_;
  size_t at_ = 0;
};

constexpr std::array<unsigned, 8> kWidths = {1, 2, 4, 8, 3, 5, 16, 4};

// The ops past the targets: what the platform's other side does.
enum class Event : uint8_t {
  kRawMmio,   // an access anywhere in MMIO: the offset is the address's low half, then its high
  kRawPio,    // an access at any port
  kFire,      // the assigned NVMe raises MSI-X vector `offset`
  kPinLevel,  // IOAPIC pin (offset & 0xff) % 24 goes to level offset >> 8 & 1
  kEoi,       // the vCPU reports the EOI of vector `offset`
  kCount
};

class Runner {
 public:
  Runner(Platform& p, size_t heap_base) : p_(p), heap_base_(heap_base) {}

  void run(Reader& in) {
    while (!in.done() && accesses_ < kMaxAccesses) step(in);
  }

  // The guest's view of the receive FIFO: it drains it and counts.
  void check_serial() {
    uint8_t zero = 0;
    p_.pio.write(vmm::kCom1Port + 3, std::span(&zero, 1));  // LCR: DLAB off
    for (unsigned n = 0;; ++n) {
      uint8_t lsr = 0;
      p_.pio.read(vmm::kCom1Port + 5, std::span(&lsr, 1));
      if (!(lsr & 1)) return;
      if (n == 16) violated("the 16550 received more than its FIFO holds", n);
      uint8_t byte = 0;
      p_.pio.read(vmm::kCom1Port, std::span(&byte, 1));
    }
  }

 private:
  void step(Reader& in) {
    const auto target = static_cast<unsigned>(in.take(1));
    const auto control = static_cast<unsigned>(in.take(1));
    const unsigned width = kWidths[control & 7];
    const bool write = control & 8;
    unsigned repeat = 1;
    if (control & 16) {
      const auto r = static_cast<unsigned>(in.take(1));
      repeat = r < 128 ? r + 1 : 512 * (r - 127);
    }
    const uint64_t offset = in.take(4);
    std::array<uint8_t, 16> value{};
    if (write) in.take(std::span(value.data(), width));

    const size_t events = static_cast<size_t>(Event::kCount);
    const size_t choice = target % (p_.targets.size() + events);
    Space space = Space::kMmio;
    uint64_t address = 0;
    if (choice < p_.targets.size()) {
      const Target& t = p_.targets[choice];
      space = t.space;
      const uint64_t base = t.endpoint ? bar_base(*t.endpoint, t.bar) : t.base;
      // A few bytes either side too: accesses that straddle a device's edges.
      address = base - 8 + offset % (t.span + 16);
    } else {
      switch (static_cast<Event>(choice - p_.targets.size())) {
        case Event::kRawMmio:
          address = offset | in.take(4) << 32;
          break;
        case Event::kRawPio:
          space = Space::kPio;
          address = offset & 0xffff;
          break;
        case Event::kFire:
          // Each fire reads /proc (the fake's eventfd check): a few are plenty.
          for (unsigned i = 0; i < std::min(repeat, 64u); ++i) (void)p_.vfio.fire(offset % 128);
          return after(std::min(repeat, 64u));
        case Event::kPinLevel:
          p_.ioapic->set_level((offset & 0xff) % irq::Ioapic::kPins, offset >> 8 & 1);
          return after(1);
        case Event::kEoi:
          p_.ioapic->end_of_interrupt(static_cast<uint8_t>(offset));
          return after(1);
        case Event::kCount:
          break;
      }
    }
    if (trace_) {
      std::fprintf(stderr, "%s %s %#llx/%u x%u\n", space == Space::kPio ? "pio" : "mmio",
                   write ? "write" : "read", static_cast<unsigned long long>(address), width,
                   repeat);
    }
    bus::Bus& bus = space == Space::kPio ? p_.pio : p_.mmio;
    const std::span<uint8_t> data(value.data(), width);
    for (unsigned i = 0; i < repeat && accesses_ + i < kMaxAccesses; ++i) {
      if (write) {
        bus.write(address, data);
        ++data[0];  // `rep outs` from a buffer: the data moves on
      } else {
        bus.read(address, data);
      }
    }
    after(repeat);
  }

  void after(unsigned accesses) {
    accesses_ += accesses;
    const size_t heap = heap_bytes();
    if (heap > heap_base_ + kGrowthCap) violated("heap grew past the cap", heap - heap_base_);
    if (heap > heap_base_) g_growth_feature[std::bit_width(heap - heap_base_)] = 1;
    if (!p_.vfio.rule_violations().empty()) {
      for (const auto& v : p_.vfio.rule_violations()) std::fprintf(stderr, "VFIO: %s\n", v.c_str());
      violated("VFIO rule broken");
    }
  }

  Platform& p_;
  const size_t heap_base_;
  const bool trace_ = std::getenv("FERRY_FUZZ_TRACE") != nullptr;  // each access, to stderr
  size_t accesses_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // models log what guests get wrong; noise here
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool warmed_up = false;  // the first input pays for lazily built statics
  const size_t fds_before = open_fds();
  const size_t heap_before = heap_bytes();
  {
    FakeVm vm;
    test::FakeVfio vfio;
    {
      Platform platform(vm, vfio);
      if (auto built = platform.build(); !built) {
        std::fprintf(stderr, "platform: %s\n", built.error().message().c_str());
        std::abort();
      }
      Runner runner(platform, heap_bytes());
      Reader in(std::span(data, size));
      runner.run(in);
      runner.check_serial();
    }
    vm.check_torn_down();
    if (!vfio.rule_violations().empty()) violated("VFIO rule broken at teardown");
    if (vfio.open_fds() != 0) violated("VFIO fds left open", vfio.open_fds());
  }
  if (warmed_up && heap_bytes() > heap_before) {
    violated("heap not back after teardown", heap_bytes() - heap_before);
  }
  if (open_fds() != fds_before) violated("fds left open after teardown", open_fds());
  warmed_up = true;
  return 0;
}

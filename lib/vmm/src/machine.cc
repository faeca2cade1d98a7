#include "ferry/vmm/machine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "ferry/base/checked.h"
#include "ferry/base/file.h"
#include "ferry/pci/ecam.h"
#include "ferry/vmm/acpi_tables.h"
#include "ferry/vmm/boot_state.h"
#include "ferry/vmm/builtin_payloads.h"
#include "ferry/vmm/cpuid.h"
#include "ferry/vmm/linux_boot.h"
#include "ferry/vmm/memory_layout.h"
#include "ferry/vmm/payload_plan.h"
#include "ferry/vmm/pci_platform.h"
#include "ferry/vmm/platform_devices.h"

namespace ferry::vmm {
namespace {

constexpr unsigned kMaxPopulateThreads = 8;  // past this, page zeroing is memory-bound

}  // namespace

std::string describe(const Outcome& outcome) {
  switch (outcome.reason) {
    case Outcome::Reason::kGuestExit:
      return fmt::format("the guest exited with status {}", outcome.code);
    case Outcome::Reason::kPowerOff:
      return "the guest powered off";
    case Outcome::Reason::kReset:
      return "the guest reset the machine (a reset request or a triple fault); ferry stops the "
             "VM instead of rebooting it";
    case Outcome::Reason::kHalted:
      return "every vCPU halted with nothing left to wake it";
    case Outcome::Reason::kStopped:
      return fmt::format("stopped by signal {}", outcome.code);
    case Outcome::Reason::kQuit:
      return "quit from the console (Ctrl-A x)";
    case Outcome::Reason::kError:
      return outcome.error ? outcome.error->message() : "failed";
  }
  return "ended";
}

int exit_status(const Outcome& outcome) {
  switch (outcome.reason) {
    case Outcome::Reason::kGuestExit:
      return outcome.code;
    case Outcome::Reason::kPowerOff:
    case Outcome::Reason::kHalted:
    case Outcome::Reason::kQuit:
      return 0;
    case Outcome::Reason::kReset:
      return 3;
    case Outcome::Reason::kStopped:
      return 128 + outcome.code;
    case Outcome::Reason::kError:
      return 1;
  }
  return 1;
}

bool ended_abnormally(const Outcome& outcome) {
  return outcome.reason == Outcome::Reason::kReset || outcome.reason == Outcome::Reason::kError;
}

Expected<std::unique_ptr<Machine>> Machine::create(accel::Hypervisor& hypervisor,
                                                   const VmConfig& config, MachineOptions options) {
  FERRY_ASSIGN(auto cpuid, hypervisor.supported_cpuid());
  // Host devices are judged before anything on the host is touched.
  FERRY_ASSIGN(auto host_devices, check_host_devices(config, physical_address_bits(cpuid)));
  FERRY_ASSIGN(EventFd done, EventFd::create());
  std::unique_ptr<Machine> machine(new Machine(config, std::move(options), std::move(done)));
  FERRY_ASSIGN(GuestMemory memory,
               GuestMemory::allocate(config.memory_size,
                                     {.huge_page_size = config.huge_page_size,
                                      .transparent_huge_pages = config.transparent_huge_pages}));
  machine->memory_.emplace(std::move(memory));
  FERRY_ASSIGN(machine->vm_, hypervisor.create_vm({.vcpus = config.vcpus}));
  if (!host_devices.devices.empty()) {
    FERRY_ASSIGN(machine->event_loop_,
                 irq::EventLoop::start(machine->options_.thread_hooks.event_loop));
  }
  machine->routes_ =
      std::make_unique<irq::MsiRouteTable>(*machine->vm_, machine->event_loop_.get());
  FERRY_TRY(machine->memory_->map_into(*machine->vm_));
  FERRY_TRY(machine->load_payload(has_gib_pages(cpuid)));
  FERRY_TRY(machine->add_devices());
  FERRY_TRY(machine->assign_host_devices(host_devices, physical_address_bits(cpuid)));
  // Linux finds its hardware (vCPUs, IOAPIC, PCI host bridge, COM1, power-off) only there.
  if (config.acpi || config.payload.format == PayloadFormat::kLinux) {
    FERRY_TRY(machine->write_acpi());
  }
  FERRY_TRY(machine->create_vcpus(cpuid, machine->options_.thread_hooks));
  return machine;
}

Expected<void> Machine::assign_host_devices(const HostDevicePlan& plan,
                                            unsigned physical_address_bits) {
  const std::vector<HostDeviceChoice>& choices = plan.devices;
  HostDeviceMaker make;
  if (!choices.empty()) {
    std::vector<vfio::GuestRam> ram;
    for (const RamRange& r : memory_->ranges()) {
      ram.push_back({r.gpa, r.size, memory_->host_span(r.gpa, r.size)});
    }
    // The same progress line follows the mapping (with the first device's group).
    vfio::DmaMapObserver mapped;
    if (options_.dma_progress) {
      mapped = [progress = options_.dma_progress, start = std::chrono::steady_clock::now()](
                   uint64_t done, uint64_t total) mutable {
        if (done == 0) start = std::chrono::steady_clock::now();
        const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
        progress({.done_bytes = done,
                  .total_bytes = total,
                  .seconds = elapsed.count(),
                  .step = PinStep::kMap});
      };
    }
    const vfio::Backend backend = plan.iommufd ? vfio::Backend::kIommufd : vfio::Backend::kLegacy;
    spdlog::info("VFIO: {} path for {} device{} ({})", vfio::backend_name(backend), choices.size(),
                 choices.size() == 1 ? "" : "s", plan.why);
    FERRY_ASSIGN(vfio_, vfio::Assignment::create(*vm_, std::move(ram), vfio::VfioSys::real(),
                                                 backend, std::move(mapped), config_.vfio_p2p));
    // Pinning for DMA backs every page: do it now, on several threads (guest_memory.h).
    const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
    const unsigned threads =
        options_.populate_threads ? options_.populate_threads : std::min(cpus, kMaxPopulateThreads);
    FERRY_TRY(memory_->populate(threads, options_.dma_progress));
    make = [this, &choices](size_t entry,
                            pci::BarSpaces spaces) -> Expected<std::shared_ptr<pci::Endpoint>> {
      for (const HostDeviceChoice& c : choices) {
        if (c.entry != entry) continue;
        // Pins 16-23 carry PCI INTx, one device each (pins 0-15 are the ISA ones).
        std::optional<vfio::IntxWiring> intx;
        if (next_intx_pin_ < irq::Ioapic::kPins) {
          intx.emplace(vfio::IntxWiring{*ioapic_, *event_loop_, next_intx_pin_++});
        }
        return vfio_->assign({.bdf = c.bdf, .group = c.group, .cdev = c.cdev}, *routes_,
                             std::move(spaces), intx);
      }
      return fail(Errc::kInternal, "devices[{}] was not checked", entry);
    };
  }
  FERRY_ASSIGN(pci_, create_pci(config_, physical_address_bits, *routes_, mmio_bus_, pio_bus_, make,
                                plan.iommu));
  // The BARs are placed now (decoding off until the guest turns it on): a DMA space that
  // cannot map them for peer-to-peer fails here, before the guest runs.
  if (vfio_) FERRY_TRY(vfio_->probe_p2p());
  return {};
}

Machine::~Machine() {
  for (auto& runner : runners_) runner->stop();
}

Expected<void> Machine::load_payload(bool gib_pages) {
  const PayloadConfig& p = config_.payload;
  auto prepared = prepare_payload(p, memory_->size());
  if (!prepared) return fail(prepared.error().context("payload"));
  Expected<LoadedPayload> loaded = write_payload(*memory_, prepared->plan);
  if (!loaded) return fail(loaded.error().context(prepared->what));
  const std::string& what = prepared->what;
  const bool linux = p.format == PayloadFormat::kLinux;
  FERRY_TRY(write_boot_tables(*memory_, p.mode, gib_pages,
                              linux ? GdtLayout::kLinux : GdtLayout::kFerry));
  entry_ = loaded->entry;
  payload_range_ = {loaded->begin, loaded->end};
  spdlog::debug("{}: {:#x}-{:#x}, entry {:#x}, {} mode", what, loaded->begin, loaded->end, entry_,
                boot_mode_name(p.mode));
  return {};
}

Expected<void> Machine::write_acpi() {
  if (payload_range_.first < kAcpiTablesBase + kAcpiTablesSize &&
      kAcpiTablesBase < payload_range_.second) {
    return fail(Errc::kInvalidArgument,
                "the payload ({:#x}-{:#x}) overlaps the ACPI tables ({:#x}-{:#x}); load it "
                "elsewhere or turn the ACPI tables off",
                payload_range_.first, payload_range_.second, kAcpiTablesBase,
                kAcpiTablesBase + kAcpiTablesSize);
  }
  const AcpiPlatform platform{.vcpus = config_.vcpus,
                              .windows = pci_->layout().windows,
                              .ecam_base = pci_->layout().ecam_base,
                              .ecam_size = pci_->bus_count() * pci::Ecam::kBytesPerBus,
                              .intx = pci_->intx_routes()};
  FERRY_ASSIGN(uint64_t rsdp, write_acpi_tables(*memory_, platform));
  acpi_rsdp_ = rsdp;
  return {};
}

Expected<void> Machine::add_devices() {
  SerialOutput output = SerialOutput::discard();
  if (config_.serial.mode == SerialMode::kStdout || config_.serial.mode == SerialMode::kStdio) {
    output = SerialOutput::to_stdout();
  }
  if (config_.serial.mode == SerialMode::kFile) {
    FERRY_ASSIGN(output, SerialOutput::to_file(config_.serial.path));
  }
  output.keep_tail(console_tail_);
  FERRY_ASSIGN(PlatformDevices platform,
               add_platform_devices(
                   mmio_bus_, pio_bus_, *routes_, std::move(output),
                   [this](uint8_t code) { end(Outcome::guest_exit(code)); },
                   {.power_off = [this] { end(Outcome::because(Outcome::Reason::kPowerOff)); },
                    .reset = [this] { end(Outcome::because(Outcome::Reason::kReset)); }}));
  ioapic_ = std::move(platform.ioapic);
  com1_ = std::move(platform.com1);
  return {};
}

Expected<void> Machine::create_vcpus(const std::vector<accel::CpuidEntry>& cpuid,
                                     const ThreadHooks& hooks) {
  for (unsigned i = 0; i < config_.vcpus; ++i) {
    FERRY_ASSIGN(auto vcpu, vm_->create_vcpu(i));
    FERRY_TRY(vcpu->set_cpuid(vcpu_cpuid(cpuid, i)));
    if (config_.payload.format != PayloadFormat::kLinux) {
      // Every vCPU of ferry's own payloads starts at the entry point; none waits for INIT/SIPI.
      FERRY_TRY(set_entry_state(*vcpu, config_.payload.mode, entry_, i, config_.vcpus));
      FERRY_TRY(vcpu->set_mp_state(accel::MpState::kRunnable));
    } else if (i == 0) {
      FERRY_TRY(set_linux_entry_state(*vcpu, entry_, kLinuxBootParamsAddress, kLinuxStackTop));
      FERRY_TRY(vcpu->set_mp_state(accel::MpState::kRunnable));
    } else {
      // Linux starts its application processors itself, with INIT and SIPI.
      FERRY_TRY(vcpu->set_mp_state(accel::MpState::kWaitForSipi));
    }
    vcpus_.push_back(std::move(vcpu));
    vcpu_io_.push_back(std::make_unique<BusIo>(mmio_bus_, pio_bus_));
  }
  VcpuRunner::Observer& observer = *this;
  for (unsigned i = 0; i < config_.vcpus; ++i) {
    VcpuRunner::ThreadStart on_start;
    if (hooks.vcpu) on_start = [hook = hooks.vcpu, i] { return hook(i); };
    runners_.push_back(
        std::make_unique<VcpuRunner>(*vcpus_[i], *vcpu_io_[i], observer, std::move(on_start)));
  }
  return {};
}

void Machine::start() {
  for (auto& runner : runners_) runner->start();
  for (auto& runner : runners_) runner->resume();
}

void Machine::pause() {
  for (auto& runner : runners_) runner->pause();
}

void Machine::resume() {
  for (auto& runner : runners_) runner->resume();
}

void Machine::stop(int signal_number) { end(Outcome::stopped(signal_number)); }

void Machine::end(Outcome outcome) {
  {
    std::lock_guard lock(end_mutex_);
    if (outcome_) return;  // the first reason wins
    outcome_ = std::move(outcome);
  }
  ended_.notify_all();
  for (auto& runner : runners_) runner->request_stop();
  (void)done_.signal();
}

void Machine::on_vcpu_stopped(unsigned index, const Expected<accel::Exit>& why) {
  if (!why) {
    end(Outcome::failed(why.error()));
    return;
  }
  switch (why->kind) {
    case accel::ExitKind::kShutdown:
      end(Outcome::because(Outcome::Reason::kPowerOff));
      return;
    case accel::ExitKind::kReset:
      end(Outcome::because(Outcome::Reason::kReset));
      return;
    case accel::ExitKind::kHalt: {
      spdlog::debug("vCPU {} halted for good", index);
      std::unique_lock lock(end_mutex_);
      if (++halted_ < vcpus_.size()) return;
      lock.unlock();
      end(Outcome::because(Outcome::Reason::kHalted));
      return;
    }
    default:
      return;
  }
}

void Machine::on_ioapic_eoi(uint8_t vector) { ioapic_->end_of_interrupt(vector); }

size_t Machine::console_input(std::span<const uint8_t> bytes) {
  return com1_->receive_input(bytes);
}

Outcome Machine::wait() {
  {
    std::unique_lock lock(end_mutex_);
    ended_.wait(lock, [&] { return outcome_.has_value(); });
  }
  for (auto& runner : runners_) runner->stop();
  std::lock_guard lock(end_mutex_);
  return *outcome_;
}

MachineStats Machine::stats() const {
  MachineStats stats;
  for (const auto& runner : runners_) stats.exits += runner->exits();
  for (const auto& io : vcpu_io_) {
    IoCounts c = io->counts();
    stats.io.mmio += c.mmio;
    stats.io.pio += c.pio;
    stats.io.unclaimed += c.unclaimed;
  }
  stats.guest_resident_bytes = memory_->resident_bytes();
  return stats;
}

}  // namespace ferry::vmm

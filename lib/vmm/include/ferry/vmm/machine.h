// A running virtual machine: the composition of one accelerator VM, guest memory, the buses and
// their devices, and a thread per vCPU.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ferry/accel/hypervisor.h"
#include "ferry/base/event_fd.h"
#include "ferry/bus/bus.h"
#include "ferry/irq/event_loop.h"
#include "ferry/irq/ioapic.h"
#include "ferry/irq/msi_route_table.h"
#include "ferry/pci/root_complex.h"
#include "ferry/vfio/assignment.h"
#include "ferry/vmm/bus_io.h"
#include "ferry/vmm/console_tail.h"
#include "ferry/vmm/guest_memory.h"
#include "ferry/vmm/host_devices.h"
#include "ferry/vmm/serial_16550.h"
#include "ferry/vmm/vcpu_runner.h"
#include "ferry/vmm/vm_config.h"

namespace ferry::vmm {

// Why a VM ended, and the status `ferry run` exits with (docs/cli.md).
struct Outcome {
  enum class Reason : uint8_t { kGuestExit, kPowerOff, kReset, kHalted, kStopped, kQuit, kError };
  Reason reason = Reason::kError;
  int code = 0;  // kGuestExit: the byte the guest wrote; kStopped: the signal number
  std::optional<Error> error;

  static Outcome guest_exit(int code) { return {Reason::kGuestExit, code, std::nullopt}; }
  static Outcome stopped(int signal_number) { return {Reason::kStopped, signal_number, {}}; }
  static Outcome failed(Error error) { return {Reason::kError, 0, std::move(error)}; }
  static Outcome because(Reason reason) { return {reason, 0, std::nullopt}; }
};

std::string describe(const Outcome& outcome);
int exit_status(const Outcome& outcome);
/// Whether the guest ended other than it meant to: a reset (a triple fault, or a panicking Linux
/// with panic=-1 rebooting) or an error. ferry run then shows the console's last lines.
bool ended_abnormally(const Outcome& outcome);

// Code each thread of the VM runs on itself once its setup is done, before its work begins
// (ferry run loads the thread's seccomp filter there). An error ends the VM (vCPU) or its
// creation (event loop).
struct ThreadHooks {
  std::function<Expected<void>(unsigned index)> vcpu;  // on vCPU `index`'s thread
  irq::EventLoop::ThreadStart event_loop;              // on the interrupt event loop's thread
};

struct MachineStats {
  uint64_t exits = 0;
  IoCounts io;
  uint64_t guest_resident_bytes = 0;
};

struct MachineOptions {
  unsigned populate_threads = 0;  // threads that populate RAM for DMA; 0: one per CPU, up to 8
  PopulateObserver dma_progress;  // called while guest RAM is populated, then mapped, for DMA
  ThreadHooks thread_hooks;
};

class Machine final : private VcpuRunner::Observer {
 public:
  /// Builds the whole VM, paused. On error nothing is left behind.
  static Expected<std::unique_ptr<Machine>> create(accel::Hypervisor& hypervisor,
                                                   const VmConfig& config,
                                                   MachineOptions options = {});
  ~Machine() override;

  /// Starts every vCPU.
  void start();
  /// Takes every vCPU out of the guest and holds it; returns once all are out.
  void pause();
  /// Lets paused vCPUs run again.
  void resume();
  /// Ends the VM on behalf of a signal (or a caller); safe from any thread.
  void stop(int signal_number);
  /// Ends the VM because the user quit from the console (Ctrl-A x); safe from any thread.
  void quit() { end(Outcome::because(Outcome::Reason::kQuit)); }
  /// Readable (an eventfd) once the VM has ended; for poll() beside a signalfd.
  int done_fd() const { return done_.fd(); }
  /// Waits for the end, joins every vCPU thread, and says why it ended.
  Outcome wait();

  /// Feeds the host console's bytes to COM1's receiver; returns how many it took (it takes more
  /// once the guest has read some). Safe from any thread.
  size_t console_input(std::span<const uint8_t> bytes);
  /// The last lines the guest wrote to COM1, whatever `serial:` sends them to.
  std::vector<std::string> console_tail() const { return console_tail_->lines(); }

  MachineStats stats() const;
  const GuestMemory& memory() const { return *memory_; }
  /// Where the ACPI tables' RSDP is (for boot_params' acpi_rsdp_addr); none unless config.acpi.
  std::optional<uint64_t> acpi_rsdp() const { return acpi_rsdp_; }

 private:
  Machine(const VmConfig& config, MachineOptions options, EventFd done)
      : config_(config), options_(std::move(options)), done_(std::move(done)) {}
  Expected<void> load_payload(bool gib_pages);
  Expected<void> add_devices();
  // The ACPI tables (config.acpi), once the PCI windows are known; refuses a payload in their way.
  Expected<void> write_acpi();
  // The spec's PCI devices, the host ones through VFIO (after the guest's RAM exists).
  Expected<void> assign_host_devices(const HostDevicePlan& plan, unsigned physical_address_bits);
  Expected<void> create_vcpus(const std::vector<accel::CpuidEntry>& cpuid,
                              const ThreadHooks& hooks);
  void end(Outcome outcome);
  void on_vcpu_stopped(unsigned index, const Expected<accel::Exit>& why) override;
  void on_ioapic_eoi(uint8_t vector) override;

  // Declaration order is teardown order reversed: threads stop first, memory goes last.
  VmConfig config_;
  MachineOptions options_;
  std::optional<GuestMemory> memory_;
  std::unique_ptr<accel::Vm> vm_;
  std::unique_ptr<irq::EventLoop> event_loop_;  // with assigned devices: their masked vectors
  std::unique_ptr<irq::MsiRouteTable> routes_;
  std::shared_ptr<irq::Ioapic> ioapic_;
  std::shared_ptr<ConsoleTail> console_tail_ = std::make_shared<ConsoleTail>();
  std::shared_ptr<Serial16550> com1_;
  bus::Bus mmio_bus_{"mmio"};
  bus::Bus pio_bus_{"port"};
  std::unique_ptr<pci::RootComplex> pci_;   // its devices live on until the buses let go
  std::unique_ptr<vfio::Assignment> vfio_;  // released before the VM, its routes and its RAM
  std::vector<std::unique_ptr<accel::Vcpu>> vcpus_;
  std::vector<std::unique_ptr<BusIo>> vcpu_io_;  // one per vCPU: uncontended counters
  std::vector<std::unique_ptr<VcpuRunner>> runners_;
  uint64_t entry_ = 0;
  std::pair<uint64_t, uint64_t> payload_range_;  // [begin, end) of the bytes it wrote
  std::optional<uint64_t> acpi_rsdp_;
  unsigned next_intx_pin_ = 16;

  EventFd done_;
  std::mutex end_mutex_;  // guards outcome_ and halted_; a leaf lock
  std::condition_variable ended_;
  std::optional<Outcome> outcome_;
  unsigned halted_ = 0;
};

}  // namespace ferry::vmm

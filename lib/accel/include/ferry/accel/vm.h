// A virtual machine of one accelerator: guest memory, vCPUs and interrupt plumbing.
//
// The hypervisor emulates only the local APICs. The IOAPIC is the VMM's (vmm::Ioapic): it turns
// pin changes into MSIs on GSIs 0-23, and the vCPU reports EOIs of level-triggered vectors as
// ExitKind::kIoapicEoi. MSHV has no in-kernel IOAPIC at all, and on KVM the in-kernel one costs
// ~15-25 ms of teardown per VM (an SRCU grace period per device), so both backends work this way.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "ferry/accel/vcpu.h"
#include "ferry/accel/vfio_bridge.h"
#include "ferry/base/error.h"

namespace ferry::accel {

// One MSI route: signals on `gsi` deliver this address/data pair.
struct MsiRoute {
  uint32_t gsi = 0;
  uint64_t address = 0;
  uint32_t data = 0;
};

// When the hypervisor pairs an assigned device's interrupt (VFIO's trigger on an eventfd, the
// producer) with the irqfd that consumes the same eventfd. lib/irq derives its order from this.
enum class IrqfdPairing : uint8_t {
  kWhenBothExist,  // KVM: irqbypass pairs them in either order (virt/lib/irqbypass.c)
  kAtAssign,       // MSHV (a hypothesis, docs/irq.md): at irqfd assign, so the trigger goes first
};

enum class IoSpace : uint8_t { kMmio, kPio };

// An eventfd the hypervisor signals on a guest write, without exiting to the VMM.
struct IoEventFd {
  IoSpace space = IoSpace::kMmio;
  uint64_t address = 0;
  uint32_t length = 0;  // 0 = any access size (where the backend supports it)
  std::optional<uint64_t> datamatch;
  int fd = -1;
};

class Vm {
 public:
  virtual ~Vm() = default;

  /// Creates vCPU `index`; indices are unique and below Hypervisor::max_vcpus().
  virtual Expected<std::unique_ptr<Vcpu>> create_vcpu(unsigned index) = 0;

  /// Makes [gpa, gpa+size) guest RAM backed by host memory at `host` (page aligned).
  virtual Expected<void> map_memory(uint64_t gpa, uint64_t size, void* host, bool writable) = 0;
  /// Makes [gpa, gpa+size) the device memory mapped at `host` (an assigned device's BAR):
  /// guest accesses reach it without exits, and the backend never reads or writes it as RAM
  /// (an emulated instruction's access to it goes through GuestIo, at the guest's width).
  virtual Expected<void> map_device_memory(uint64_t gpa, uint64_t size, void* host) = 0;
  /// Removes a mapping made by map_memory or map_device_memory with the same gpa and size.
  virtual Expected<void> unmap_memory(uint64_t gpa, uint64_t size) = 0;

  /// Replaces the whole MSI routing table (an empty span clears it).
  virtual Expected<void> set_msi_routes(std::span<const MsiRoute> routes) = 0;
  /// Injects `gsi` each time `eventfd` is signalled; with resample_fd, as a level interrupt that
  /// re-arms when the guest ends it (resample_fd is signalled at EOI).
  virtual Expected<void> register_irqfd(int eventfd, uint32_t gsi,
                                        std::optional<int> resample_fd = std::nullopt) = 0;
  virtual Expected<void> unregister_irqfd(int eventfd, uint32_t gsi) = 0;
  /// How this accelerator pairs a device's interrupt with an irqfd (lib/irq's ordering).
  virtual IrqfdPairing irqfd_pairing() const = 0;

  virtual Expected<void> register_ioeventfd(const IoEventFd& event) = 0;
  virtual Expected<void> unregister_ioeventfd(const IoEventFd& event) = 0;

  /// The hypervisor's VFIO device for this VM (one per VM; vfio_bridge.h).
  virtual Expected<std::unique_ptr<VfioBridge>> create_vfio_bridge() = 0;
};

}  // namespace ferry::accel

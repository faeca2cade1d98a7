// Everything one VM holds for its assigned devices: the container, the groups, the hypervisor's
// VFIO bridge, guest RAM mapped for DMA, and the devices. Its destructor is the one teardown
// order (docs/vfio.md): each device's interrupts off and BARs out of the guest, its reset and
// close; the groups off the hypervisor's bridge; DMA unmapped; the groups closed; the container.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ferry/accel/vm.h"
#include "ferry/irq/msi_route_table.h"
#include "ferry/pci/endpoint.h"
#include "ferry/vfio/assigned_device.h"
#include "ferry/vfio/container.h"
#include "ferry/vfio/group.h"
#include "ferry/vfio/vfio_sys.h"

namespace ferry::vfio {

// A run of guest RAM: where the guest sees it and where it lives in this process.
struct GuestRam {
  uint64_t gpa = 0;
  uint64_t size = 0;
  void* host = nullptr;
};

// It is its devices' Resetter: FLR where a device has it, else a bus hot reset when every IOMMU
// group that reset would hit is one this Assignment holds.
class Assignment final : private Resetter {
 public:
  /// Checks that `ram` can be pinned (RLIMIT_MEMLOCK) and opens the container.
  static Expected<std::unique_ptr<Assignment>> create(accel::Vm& vm, std::vector<GuestRam> ram,
                                                      VfioSys& sys = VfioSys::real());
  ~Assignment() override;
  Assignment(const Assignment&) = delete;
  Assignment& operator=(const Assignment&) = delete;

  /// Takes the device `bdf` of IOMMU group `group`: the group joins the container and the
  /// hypervisor's bridge (guest RAM is DMA-mapped with the first), then the device is reset
  /// and put in front of the guest as a function on `spaces`' buses. On failure the Assignment
  /// is as it was: a group this call took leaves the bridge and the container and closes.
  Expected<std::shared_ptr<AssignedDevice>> assign(const std::string& bdf, unsigned group,
                                                   irq::MsiRouteTable& routes,
                                                   pci::BarSpaces spaces,
                                                   std::optional<IntxWiring> intx = {});

 private:
  Assignment(accel::Vm& vm, std::vector<GuestRam> ram, VfioSys& sys, Container container)
      : vm_(vm), ram_(std::move(ram)), sys_(sys), container_(std::move(container)) {}
  Expected<Group*> take_group(unsigned number);
  // The DMA mappings (with the first group) and the bridge, for a group just in the container.
  Expected<void> join(unsigned number, const Group& group);
  Expected<std::shared_ptr<AssignedDevice>> take_device(const Group& group, const std::string& bdf,
                                                        irq::MsiRouteTable& routes,
                                                        pci::BarSpaces spaces,
                                                        std::optional<IntxWiring> intx);
  // Undoes take_group for a group none of whose devices is held.
  void drop_group(unsigned number);
  Expected<void> reset(Device& device) override;

  accel::Vm& vm_;
  std::vector<GuestRam> ram_;
  VfioSys& sys_;
  Container container_;
  std::unique_ptr<accel::VfioBridge> bridge_;
  std::map<unsigned, Group> groups_;
  std::vector<unsigned> bridged_;  // groups added to the bridge
  std::vector<std::shared_ptr<AssignedDevice>> devices_;
};

/// Fails, naming the fix, when pinning `bytes` would exceed RLIMIT_MEMLOCK for a process
/// without CAP_IPC_LOCK (after raising the soft limit as far as the hard one allows).
Expected<void> check_memlock(uint64_t bytes);

}  // namespace ferry::vfio

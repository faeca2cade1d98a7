// Everything one VM holds for its assigned devices: the container, the groups, the hypervisor's
// VFIO bridge, guest RAM mapped for DMA, and the devices. Its destructor is the one teardown
// order (docs/vfio.md): each device's interrupts off and BARs out of the guest, its reset and
// close; the groups off the hypervisor's bridge; DMA unmapped; the groups closed; the container.
#pragma once

#include <cstdint>
#include <functional>
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

// How far mapping guest RAM for DMA has come: called with 0 before the first chunk, then after
// each one.
using DmaMapObserver = std::function<void(uint64_t done_bytes, uint64_t total_bytes)>;

// Guest RAM is mapped for DMA in chunks of this size, one progress step each. One thread maps
// them: type1 holds its container lock through each MAP_DMA, so chunks mapped on several
// threads at once take as long (bench/pin_bench measures it).
constexpr uint64_t kDmaMapChunk = uint64_t{1} << 30;

// It is its devices' Resetter: FLR where a device has it, else a bus hot reset when every IOMMU
// group that reset would hit is one this Assignment holds.
class Assignment final : private Resetter {
 public:
  /// Checks that `ram` can be pinned (RLIMIT_MEMLOCK) and opens the container. `observer` (if
  /// any) follows the DMA mapping of `ram` when the first group joins.
  static Expected<std::unique_ptr<Assignment>> create(accel::Vm& vm, std::vector<GuestRam> ram,
                                                      VfioSys& sys = VfioSys::real(),
                                                      DmaMapObserver observer = {});
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
  Assignment(accel::Vm& vm, std::vector<GuestRam> ram, VfioSys& sys, Container container,
             DmaMapObserver observer)
      : vm_(vm),
        ram_(std::move(ram)),
        sys_(sys),
        container_(std::move(container)),
        observer_(std::move(observer)) {}
  Expected<Group*> take_group(unsigned number);
  // The DMA mappings (with the first group) and the bridge, for a group just in the container.
  Expected<void> join(unsigned number, const Group& group);
  Expected<std::shared_ptr<AssignedDevice>> take_device(const Group& group, const std::string& bdf,
                                                        irq::MsiRouteTable& routes,
                                                        pci::BarSpaces spaces,
                                                        std::optional<IntxWiring> intx);
  // All of ram_ into the container, IOVA = guest physical address, in kDmaMapChunk pieces.
  Expected<void> map_guest_ram();
  // Undoes take_group for a group none of whose devices is held.
  void drop_group(unsigned number);
  Expected<void> reset(Device& device) override;

  accel::Vm& vm_;
  std::vector<GuestRam> ram_;
  VfioSys& sys_;
  Container container_;
  DmaMapObserver observer_;
  std::unique_ptr<accel::VfioBridge> bridge_;
  std::map<unsigned, Group> groups_;
  std::vector<unsigned> bridged_;  // groups added to the bridge
  std::vector<std::shared_ptr<AssignedDevice>> devices_;
};

/// Fails, naming the fix, when pinning `bytes` would exceed RLIMIT_MEMLOCK for a process
/// without CAP_IPC_LOCK (after raising the soft limit as far as the hard one allows).
Expected<void> check_memlock(uint64_t bytes);
/// check_memlock's error: `bytes` to pin, the soft `limit` and `hard_limit` (RLIM_INFINITY:
/// none), the shortfall and the fix.
Error memlock_error(uint64_t bytes, uint64_t limit, uint64_t hard_limit);

}  // namespace ferry::vfio

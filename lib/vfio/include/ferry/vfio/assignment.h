// Everything one VM holds for its assigned devices: the DMA space (a legacy container with its
// groups, or an iommufd IOAS with device cdevs), the hypervisor's VFIO bridge, guest RAM mapped
// for DMA, and the devices. Its destructor is the one teardown order (docs/vfio.md): each
// device's interrupts off and BARs out of the guest, its reset and close; the groups (or
// cdevs) off the hypervisor's bridge; DMA unmapped; the groups closed; the container (or IOAS).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ferry/accel/vm.h"
#include "ferry/irq/msi_route_table.h"
#include "ferry/pci/endpoint.h"
#include "ferry/vfio/assigned_device.h"
#include "ferry/vfio/container.h"
#include "ferry/vfio/dma_space.h"
#include "ferry/vfio/group.h"
#include "ferry/vfio/ioas.h"
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

// One host device to assign: its address, its IOMMU group (the legacy path's door) and its
// VFIO cdev (the iommufd path's: "/dev/vfio/devices/vfio0"; empty on the legacy path).
struct HostDeviceRef {
  std::string bdf;
  unsigned group = 0;
  std::string cdev;
};

// It is its devices' Resetter: FLR where a device has it, else a bus hot reset when every IOMMU
// group that reset would hit is one this Assignment holds. With p2p it is their BarDma too.
class Assignment final : private Resetter, private BarDma {
 public:
  /// Checks that `ram` can be pinned (RLIMIT_MEMLOCK) and opens the DMA space: the container
  /// (kLegacy) or /dev/iommu with an IOAS (kIommufd). `observer` (if any) follows the DMA
  /// mapping of `ram` when the first device or group joins. With `p2p` (vfio.p2p) every
  /// device's mapped BAR pieces are DMA-mapped too, at the BAR's guest address, while the guest
  /// decodes the BAR: devices can DMA to each other's BARs.
  static Expected<std::unique_ptr<Assignment>> create(accel::Vm& vm, std::vector<GuestRam> ram,
                                                      VfioSys& sys = VfioSys::real(),
                                                      Backend backend = Backend::kLegacy,
                                                      DmaMapObserver observer = {},
                                                      bool p2p = false);
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
  /// The same through this Assignment's backend: on kIommufd the device's cdev is opened, put
  /// on the hypervisor's bridge, bound to the iommufd and attached to the IOAS (guest RAM is
  /// DMA-mapped with the first), then reset and put in front of the guest. All or nothing.
  Expected<std::shared_ptr<AssignedDevice>> assign(const HostDeviceRef& device,
                                                   irq::MsiRouteTable& routes,
                                                   pci::BarSpaces spaces,
                                                   std::optional<IntxWiring> intx = {});
  Backend backend() const { return ioas_ ? Backend::kIommufd : Backend::kLegacy; }
  /// With p2p, after the BARs are placed and before the guest runs: each device's BARs are
  /// mapped for DMA at their placed addresses (first and last page) and unmapped again
  /// (AssignedDevice::probe_p2p), so a DMA space that cannot map BARs (iommufd) stops the start
  /// with the fix. Nothing stays mapped.
  Expected<void> probe_p2p();

 private:
  Assignment(accel::Vm& vm, std::vector<GuestRam> ram, VfioSys& sys,
             std::optional<Container> container, std::optional<Ioas> ioas, DmaMapObserver observer,
             bool p2p)
      : vm_(vm),
        ram_(std::move(ram)),
        sys_(sys),
        container_(std::move(container)),
        ioas_(std::move(ioas)),
        observer_(std::move(observer)),
        p2p_(p2p) {}
  DmaSpace& dma() { return ioas_ ? static_cast<DmaSpace&>(*ioas_) : *container_; }
  // Maps guest RAM unless mapped already; `first` names who joins (logged).
  Expected<void> map_ram_once(const std::string& first);
  Expected<std::shared_ptr<AssignedDevice>> assign_cdev(const HostDeviceRef& ref,
                                                        irq::MsiRouteTable& routes,
                                                        pci::BarSpaces spaces,
                                                        std::optional<IntxWiring> intx);
  Expected<void> hot_reset_by_device_id(Device& device, const HotResetInfo& info);
  Expected<Group*> take_group(unsigned number);
  // The DMA mappings (with the first group) and the bridge, for a group just in the container.
  Expected<void> join(unsigned number, const Group& group);
  Expected<std::shared_ptr<AssignedDevice>> take_device(const Group& group, const std::string& bdf,
                                                        irq::MsiRouteTable& routes,
                                                        pci::BarSpaces spaces,
                                                        std::optional<IntxWiring> intx);
  // All of ram_ into the DMA space, IOVA = guest physical address, in kDmaMapChunk pieces.
  Expected<void> map_guest_ram();
  // Undoes take_group for a group none of whose devices is held.
  void drop_group(unsigned number);
  Expected<void> reset(Device& device) override;
  Expected<void> map_bar(uint64_t iova, uint64_t size, void* host) override;
  Expected<void> unmap_bar(uint64_t iova, uint64_t size) override;
  BarDma* bar_dma() { return p2p_ ? this : nullptr; }

  accel::Vm& vm_;
  std::vector<GuestRam> ram_;
  VfioSys& sys_;
  std::optional<Container> container_;  // kLegacy
  std::optional<Ioas> ioas_;            // kIommufd
  DmaMapObserver observer_;
  const bool p2p_;
  // BAR maps come from the vCPU threads of several devices (their config writes); the DMA
  // space's list of maps is one.
  std::mutex bar_dma_mutex_;
  std::unique_ptr<accel::VfioBridge> bridge_;
  // kIommufd: a dup of each device cdev fd, which is what the bridge holds; it outlives the
  // device's own fd so that the device can leave the bridge after a failed or finished release.
  std::vector<UniqueFd> bridged_cdevs_;
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

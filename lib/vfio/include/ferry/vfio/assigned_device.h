// A host PCI device on the guest's bus, through VFIO. The guest sees the device's identity,
// BARs sized from the device and placed by ferry, and its registers: the mmap-able parts of each
// memory BAR are guest memory (data accesses never exit); the MSI-X table and PBA pages, I/O
// BARs and whatever the kernel will not let be mmapped are trapped and forwarded (or, for the
// table and PBA, emulated over lib/irq vectors whose trigger is VFIO's). Configuration space is
// split as assigned_config.h says.
//
// Locks: the config lock (Endpoint's) is held across the VFIO and accelerator calls that follow
// a guest config write; the MSI-X table's lock across its vectors' irqfd changes.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ferry/accel/vm.h"
#include "ferry/base/mapping.h"
#include "ferry/irq/event_loop.h"
#include "ferry/irq/ioapic.h"
#include "ferry/irq/msi_route_table.h"
#include "ferry/irq/msi_vector.h"
#include "ferry/irq/resampled_line.h"
#include "ferry/pci/endpoint.h"
#include "ferry/pci/msix_table.h"
#include "ferry/vfio/assigned_config.h"
#include "ferry/vfio/device.h"
#include "ferry/vfio/irq_index.h"

namespace ferry::vfio {

// Where the device's INTx goes: an IOAPIC pin of its own, driven through a ResampledLine.
struct IntxWiring {
  irq::Ioapic& ioapic;
  irq::EventLoop& loop;
  unsigned pin;
};

// How a device is reset, at start and at exit: the Assignment's, which knows the groups the VM
// holds (a bus hot reset needs an fd of every group it hits). It must outlive the device's
// release().
class Resetter {
 public:
  virtual ~Resetter() = default;
  /// Resets `device`: kUnsupported, saying why for the user, when there is no reset this VM may
  /// do; any other error is a reset that failed.
  virtual Expected<void> reset(Device& device) = 0;
};

// Where BARs go for peer-to-peer DMA (vfio.p2p): the VM's one DMA space, which every device
// shares (the Assignment's, which serializes the calls). IOVA = the BAR's guest address.
class BarDma {
 public:
  virtual ~BarDma() = default;
  /// Maps [iova, iova+size) to the BAR mmap at `host`, for device reads and writes.
  virtual Expected<void> map_bar(uint64_t iova, uint64_t size, void* host) = 0;
  /// Undoes the map_bar of exactly [iova, iova+size).
  virtual Expected<void> unmap_bar(uint64_t iova, uint64_t size) = 0;
};

class AssignedDevice final : public pci::Endpoint {
 public:
  /// Resets the device through `resetter` (which must outlive it), reads its configuration and
  /// regions, and maps its mmap-able BAR parts into this process (into the guest once the guest
  /// enables decoding). Without `intx` (or when the device has no pin) the guest finds no
  /// interrupt pin. With `p2p` (which must outlive it) every mapped BAR piece is DMA-mapped at
  /// its guest address while the guest decodes the BAR.
  static Expected<std::shared_ptr<AssignedDevice>> create(Device device, accel::Vm& vm,
                                                          irq::MsiRouteTable& routes,
                                                          pci::BarSpaces spaces, Resetter& resetter,
                                                          std::optional<IntxWiring> intx = {},
                                                          BarDma* p2p = nullptr);
  ~AssignedDevice() override;

  /// Interrupts off, BARs out of the guest and this process, the device reset and closed; once.
  /// Call it with the vCPUs stopped.
  void release();
  /// With p2p, once the BARs are placed (decoding still off): maps the first and last page of
  /// each mapped BAR piece for DMA at the address the BAR holds and unmaps them again, so a DMA
  /// space that cannot map BARs fails the start, not the guest. Nothing stays mapped.
  Expected<void> probe_p2p();
  /// What ferry hides from the guest or changes about the device (said at start).
  const std::vector<std::string>& notes() const { return notes_; }
  const std::string& bdf() const { return bdf_; }
  /// The guest reset the bus below the device's root port: the hardware is reset the way it is
  /// at start (its FLR, or the bus reset the Assignment may do).
  void secondary_bus_reset() override;
  /// How many of those resets reached the hardware.
  unsigned guest_resets() const { return guest_resets_; }

 protected:
  void bar_read(unsigned index, uint64_t offset, std::span<uint8_t> data) noexcept override;
  void bar_write(unsigned index, uint64_t offset, std::span<const uint8_t> data) noexcept override;
  void config_written(uint16_t offset, unsigned size) override;
  uint32_t config_read_through(uint16_t offset, unsigned size, uint32_t emulated) override;
  void config_write_through(uint16_t offset, unsigned size, uint32_t value) override;
  void bar_moved(unsigned index, std::optional<uint64_t> from, std::optional<uint64_t> to) override;

 private:
  struct MappedPiece {  // a part of a BAR given to the guest as memory
    uint64_t offset;
    Mapping host;
    std::optional<uint64_t> dma_at;  // the IOVA it is mapped at for peer-to-peer DMA
  };

  AssignedDevice(Device device, accel::Vm& vm, irq::MsiRouteTable& routes,
                 const pci::FunctionIdentity& identity, pci::BarSpaces spaces,
                 const std::array<uint8_t, 256>& raw, Resetter& resetter, BarDma* p2p,
                 bool resettable);
  Expected<void> set_up_bars();
  void set_up_header_and_capabilities();
  Expected<void> set_up_interrupts();
  Expected<void> start_intx(const IntxWiring& wiring);
  // INTx goes off for good before VFIO enables MSI or MSI-X (it refuses both at once).
  void stop_intx();
  Expected<void> map_bar_pieces(unsigned index);
  // The trapped byte ranges of BAR `index` that ferry emulates (MSI-X table, PBA).
  bool in_msix_table(unsigned index, uint64_t offset, size_t size) const;
  bool in_msix_pba(unsigned index, uint64_t offset, size_t size) const;
  // BAR `index`'s mapped pieces leave guest address `from` and/or enter at `to`.
  void move_pieces(unsigned index, std::optional<uint64_t> from, std::optional<uint64_t> to);
  // With p2p: `piece` of BAR `index` into the DMA space at `iova`, or out of it; a failure is
  // logged and leaves the piece unmapped (the guest chose the address).
  void map_p2p(unsigned index, MappedPiece& piece, uint64_t iova);
  void unmap_p2p(unsigned index, MappedPiece& piece);
  // Where BAR `index` is placed (its registers), decoding or not.
  uint64_t placed_address(unsigned index);
  void update_msi();
  void update_msix_control();
  void mirror_enable(IrqIndexState& irqs, bool enabled, const char* what);

  std::optional<Device> device_;
  const std::string bdf_;
  accel::Vm& vm_;
  irq::MsiRouteTable& routes_;
  const std::array<uint8_t, 256> raw_;  // the device's configuration space at start
  const ConfigPlan plan_;
  Resetter& resetter_;
  BarDma* const p2p_;      // null: BARs are not mapped for DMA
  const bool resettable_;  // false: the note at start said why it is never reset
  std::vector<std::string> notes_;
  std::array<std::vector<MappedPiece>, pci::kBarCount> pieces_;
  std::array<std::optional<uint64_t>, pci::kBarCount> guest_at_;  // under the config lock
  std::array<double, pci::kBarCount> mmap_ms_{};                  // how long each BAR's mmap() took
  std::array<bool, pci::kBarCount> announced_{};                  // its first placement was logged
  std::unique_ptr<IrqIndexState> msix_irqs_;
  std::unique_ptr<IrqIndexState> msi_irqs_;
  std::unique_ptr<pci::MsixTable> msix_;
  std::unique_ptr<irq::MsiVector> msi_;
  std::optional<EventFd> intx_trigger_;
  std::optional<EventFd> intx_resample_;
  std::unique_ptr<irq::ResampledLine> intx_line_;
  std::mutex intx_mutex_;  // guards the three above; taken inside the MSI-X table's lock
  std::atomic<bool> released_{false};
  std::atomic<unsigned> guest_resets_{0};
  std::atomic<bool> guest_reset_failure_said_{false};  // the first failure is logged, not each
};

}  // namespace ferry::vfio

// The device behind FakeVfio's device fd: QEMU's emulated NVMe controller (1b36:0010, class
// 010802) as vfio-pci shows it. Its configuration space has QEMU's capability chain (MSI-X at
// 0x40 -> PCI Express at 0x80 -> power management at 0x60), BAR0 is 16 KiB of 64-bit memory with
// the MSI-X table (65 vectors) at 0x2000 and the PBA at 0x3000, and there is no MSI, ROM or VGA.
//
// It answers the device-fd ioctls as drivers/vfio/pci/vfio_pci_core.c and vfio_pci_intrs.c do
// (before Linux 6.5: an enabled MSI-X index cannot grow), and records what a VMM must never do to
// it as rule violations: forwarding the MSI-X capability or table, BAR register writes, a reset
// with interrupts still enabled, an eventfd closed while it is still VFIO's trigger.
#pragma once

#include <linux/vfio.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/base/mapping.h"
#include "ferry/base/unique_fd.h"

namespace ferry::test {

class FakeVfioNvme {
 public:
  static constexpr unsigned kVectors = 65;
  static constexpr uint64_t kBar0Size = 0x4000;
  static constexpr uint64_t kTableOffset = 0x2000;
  static constexpr uint64_t kPbaOffset = 0x3000;
  static constexpr uint16_t kMsixCap = 0x40;
  static constexpr uint16_t kPmCap = 0x60;
  static constexpr uint16_t kPcieCap = 0x80;
  // vfio-pci's region offsets: the index in the top bits (VFIO_PCI_OFFSET_SHIFT).
  static constexpr uint64_t region_offset(unsigned index) { return uint64_t{index} << 40; }

  // `note` takes each rule violation; `journal` each interrupt or reset change.
  FakeVfioNvme(std::function<void(std::string)> journal, std::function<void(std::string)> note);

  // The device-fd ioctls: their result or -errno.
  int get_info(vfio_device_info& info) const;
  int region_info(vfio_region_info& info, bool fail) const;
  int irq_info(vfio_irq_info& info) const;
  int set_irqs(const vfio_irq_set& set, const uint8_t* data,
               const std::function<void(int)>& on_trigger);
  int reset();
  /// The bus's reset (VFIO_DEVICE_PCI_HOT_RESET): what reset() does to the function, unjournaled.
  void bus_reset();

  ssize_t read(uint64_t offset, void* data, size_t size) const;
  ssize_t write(uint64_t offset, const void* data, size_t size);
  Expected<Mapping> map(size_t size, uint64_t offset) const;

  /// The eventfd VFIO signals for MSI-X `vector`: -1 when the hardware's message goes nowhere
  /// (MSI-X not enabled through VFIO, no trigger, or bus mastering off).
  int trigger_of(unsigned vector) const;
  /// The eventfds VFIO still holds (triggers of every index), to check none was closed under it.
  std::vector<int> triggers() const;
  bool msix_enabled() const { return type_ == Type::kMsix; }
  unsigned enabled_vectors() const { return static_cast<unsigned>(vectors_.size()); }
  uint16_t command() const { return static_cast<uint16_t>(config_[4] | config_[5] << 8); }
  const std::array<uint8_t, 256>& config() const { return config_; }

 private:
  enum class Type : uint8_t { kNone, kIntx, kMsi, kMsix };
  struct Trigger {
    int fd = -1;
    uint64_t eventfd_id = 0;  // to tell the VMM's eventfd from a later file on the same number
  };
  int set_msix_trigger(const vfio_irq_set& set, const int32_t* fds,
                       const std::function<void(int)>& on_trigger);
  int set_block(unsigned start, unsigned count, const int32_t* fds,
                const std::function<void(int)>& on_trigger);
  void disable();
  bool bar_access_allowed(uint64_t offset, size_t size, bool write);

  std::function<void(std::string)> journal_;
  std::function<void(std::string)> note_;
  std::array<uint8_t, 256> config_{};
  UniqueFd bar0_;  // a memfd: pread/pwrite and mmap see the same bytes
  Type type_ = Type::kNone;
  std::vector<Trigger> vectors_;  // per enabled MSI-X vector
};

}  // namespace ferry::test

// What the assignment tests share: one journal that every fake writes to (so the order of
// operations across VFIO and the hypervisor is one list), and a guest that drives an assigned
// NVMe the way Linux's PCI core and nvme driver do: BAR placed, memory decoding and bus
// mastering on, MSI-X enabled with the function masked, table entries written masked, then each
// vector unmasked as request_irq() runs.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "ferry/base/units.h"
#include "ferry/bus/bus.h"
#include "ferry/pci/endpoint.h"

namespace ferry::test {

// The host bridge's windows the assignment tests place an assigned device's BARs in.
inline constexpr pci::BridgeWindows kTestWindows{
    .io = {0xc000, 0x4000},
    .mmio32 = {0xc0000000, 512 * kMiB},
    .mmio64 = {4 * kGiB, 60 * kGiB},
};

class FakeJournal {
 public:
  void add(std::string entry);
  std::vector<std::string> entries() const;
  /// The index of the first entry at or after `from` that starts with `prefix`; -1 if none.
  int find(const std::string& prefix, int from = 0) const;
  /// The index of the last entry that starts with `prefix`; -1 if none.
  int find_last(const std::string& prefix) const;
  size_t count(const std::string& prefix) const;
  int size() const;
  /// One entry a line, numbered, for failure messages and the report.
  std::string dump(int from = 0) const;

 private:
  mutable std::mutex mutex_;  // a leaf
  std::vector<std::string> entries_;
};

class FakeLinuxGuest {
 public:
  static constexpr uint64_t kBar0 = 0xc0000000;  // where the guest places BAR0
  /// With `journal`, each step the guest takes is written there too ("guest: ...").
  FakeLinuxGuest(pci::Endpoint& device, bus::Bus& mmio, FakeJournal* journal = nullptr)
      : device_(device), mmio_(mmio), journal_(journal) {}

  /// pci_enable_device() + pci_set_master() after BAR0 is placed.
  void enable_memory_and_bus_master();
  /// pci_alloc_irq_vectors(MSI-X): ENABLE | MASKALL, every entry written masked, MASKALL off.
  void enable_msix(unsigned vectors);
  void unmask(unsigned vector);
  void mask(unsigned vector);
  /// The guest's MSI message for `vector`: APIC 0, vector 0x20 + n.
  static uint8_t idt_vector(unsigned vector) { return static_cast<uint8_t>(0x20 + vector); }
  bool pending(unsigned vector);
  uint32_t read32(uint64_t bar_offset);
  void write32(uint64_t bar_offset, uint32_t value);
  void disable_msix();

 private:
  void say(std::string what) {
    if (journal_ != nullptr) journal_->add("guest: " + what);
  }

  pci::Endpoint& device_;
  bus::Bus& mmio_;
  FakeJournal* journal_;
};

}  // namespace ferry::test

// Where a guest's device BARs can go. ferry's guest memory map is not final; docs/pci.md says
// what is assumed here: a 32-bit MMIO window in the 3-4 GiB hole (0xC0000000-0xDFFFFFFF), a
// 64-bit MMIO window from the first 1 GiB boundary above RAM (and above 4 GiB) to the top of
// the guest's physical address space, and an I/O port window 0xC000-0xFFFF.
#pragma once

#include <cstdint>
#include <optional>

#include "ferry/base/error.h"

namespace ferry::pci::host {

constexpr uint64_t kMmio32Start = 0xc0000000;
constexpr uint64_t kMmio32End = 0xdfffffff;
constexpr uint64_t kIoWindowStart = 0xc000;
constexpr uint64_t kIoWindowEnd = 0xffff;
constexpr unsigned kMinPhysBits = 32;
constexpr unsigned kMaxPhysBits = 52;  // x86-64's architectural limit

struct AddressRange {
  uint64_t start = 0;
  uint64_t end = 0;  // inclusive, so a range can reach 2^64 - 1

  uint64_t size() const { return end - start + 1; }  // 0 means 2^64
};

struct GuestWindows {
  AddressRange mmio32{kMmio32Start, kMmio32End};
  std::optional<AddressRange> mmio64;  // absent when RAM reaches the top of the address space
  AddressRange io{kIoWindowStart, kIoWindowEnd};
  uint64_t ram_top = 0;  // one past the guest's highest RAM address

  /// The windows for a guest whose RAM ends below `ram_top` (one past its highest address)
  /// and whose CPUs have `phys_bits` physical address bits (32-52).
  static Expected<GuestWindows> for_guest(uint64_t ram_top, unsigned phys_bits);
};

}  // namespace ferry::pci::host

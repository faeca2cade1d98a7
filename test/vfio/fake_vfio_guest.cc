#include "fake_vfio_guest.h"

#include <fmt/format.h>

#include <cstring>

#include "fake_vfio_nvme.h"
#include "ferry/pci/config_regs.h"

namespace ferry::test {

void FakeJournal::add(std::string entry) {
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(entry));
}

std::vector<std::string> FakeJournal::entries() const {
  std::lock_guard lock(mutex_);
  return entries_;
}

int FakeJournal::find(const std::string& prefix, int from) const {
  std::lock_guard lock(mutex_);
  for (int i = std::max(from, 0); i < static_cast<int>(entries_.size()); ++i) {
    if (entries_[i].rfind(prefix, 0) == 0) return i;
  }
  return -1;
}

int FakeJournal::find_last(const std::string& prefix) const {
  std::lock_guard lock(mutex_);
  for (int i = static_cast<int>(entries_.size()) - 1; i >= 0; --i) {
    if (entries_[i].rfind(prefix, 0) == 0) return i;
  }
  return -1;
}

size_t FakeJournal::count(const std::string& prefix) const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const std::string& e : entries_) n += e.rfind(prefix, 0) == 0;
  return n;
}

int FakeJournal::size() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(entries_.size());
}

std::string FakeJournal::dump(int from) const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (int i = std::max(from, 0); i < static_cast<int>(entries_.size()); ++i) {
    out += fmt::format("{:3} {}\n", i, entries_[i]);
  }
  return out;
}

namespace {

constexpr uint16_t kMsixControl = FakeVfioNvme::kMsixCap + pci::kMsixControl;
constexpr uint64_t kEntry = 16;

}  // namespace

void FakeLinuxGuest::enable_memory_and_bus_master() {
  say(fmt::format("BAR0 at {:#x}, memory decoding and bus mastering on", kBar0));
  device_.config_write(pci::kBar0, 4, static_cast<uint32_t>(kBar0));
  device_.config_write(pci::kBar0 + 4, 4, static_cast<uint32_t>(kBar0 >> 32));
  device_.config_write(pci::kCommand, 2, pci::kCommandMemory | pci::kCommandBusMaster);
}

void FakeLinuxGuest::enable_msix(unsigned vectors) {
  say(fmt::format("MSI-X enable with the function masked, {} entries written masked", vectors));
  device_.config_write(kMsixControl, 2, pci::kMsixEnable | pci::kMsixFunctionMask);
  for (unsigned v = 0; v < vectors; ++v) {
    const uint64_t entry = FakeVfioNvme::kTableOffset + v * kEntry;
    write32(entry + 12, 1);  // masked first, as msix_mask_all() leaves them
    write32(entry + 0, 0xfee00000);
    write32(entry + 4, 0);
    write32(entry + 8, idt_vector(v));
  }
  device_.config_write(kMsixControl, 2, pci::kMsixEnable);
}

void FakeLinuxGuest::unmask(unsigned vector) {
  say(fmt::format("unmask v{}", vector));
  write32(FakeVfioNvme::kTableOffset + vector * kEntry + 12, 0);
}

void FakeLinuxGuest::mask(unsigned vector) {
  say(fmt::format("mask v{}", vector));
  write32(FakeVfioNvme::kTableOffset + vector * kEntry + 12, 1);
}

void FakeLinuxGuest::disable_msix() { device_.config_write(kMsixControl, 2, 0); }

bool FakeLinuxGuest::pending(unsigned vector) {
  const uint32_t word = read32(FakeVfioNvme::kPbaOffset + vector / 32 * 4);
  return (word >> (vector % 32)) & 1;
}

uint32_t FakeLinuxGuest::read32(uint64_t bar_offset) {
  uint32_t value = 0;
  mmio_.read(kBar0 + bar_offset, {reinterpret_cast<uint8_t*>(&value), 4});
  return value;
}

void FakeLinuxGuest::write32(uint64_t bar_offset, uint32_t value) {
  mmio_.write(kBar0 + bar_offset, {reinterpret_cast<const uint8_t*>(&value), 4});
}

}  // namespace ferry::test

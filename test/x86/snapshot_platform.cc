#include "snapshot_platform.h"

namespace ferry::x86::test {

RamSnapshot::RamSnapshot(std::span<const uint8_t> ram, std::span<const uint64_t> page_gpas) {
  for (uint64_t gpa : page_gpas) {
    const uint64_t page = gpa / kBytesPerPage;
    const uint8_t* start = ram.data() + page * kBytesPerPage;
    pages_.emplace(page, std::vector<uint8_t>(start, start + kBytesPerPage));
  }
}

uint8_t RamSnapshot::byte(uint64_t gpa) const {
  return pages_.at(gpa / kBytesPerPage)[gpa % kBytesPerPage];
}

uint8_t* SnapshotPlatform::find(uint64_t gpa) {
  auto page = pages_.find(gpa / RamSnapshot::kBytesPerPage);
  if (page == pages_.end()) return nullptr;
  return page->second.data() + gpa % RamSnapshot::kBytesPerPage;
}

uint8_t SnapshotPlatform::byte(uint64_t gpa) const {
  return pages_.at(gpa / RamSnapshot::kBytesPerPage)[gpa % RamSnapshot::kBytesPerPage];
}

// The Platform contract keeps a RAM access within one page.
bool SnapshotPlatform::read_ram(uint64_t gpa, std::span<uint8_t> data) noexcept {
  if (!is_ram(gpa, data.size(), ram_size_)) return false;
  const uint8_t* at = find(gpa);
  if (at == nullptr) {
    outside_.push_back(gpa);
    return false;
  }
  std::copy(at, at + data.size(), data.begin());
  return true;
}

bool SnapshotPlatform::write_ram(uint64_t gpa, std::span<const uint8_t> data) noexcept {
  if (!is_ram(gpa, data.size(), ram_size_)) return false;
  uint8_t* at = find(gpa);
  if (at == nullptr) {
    outside_.push_back(gpa);
    return false;
  }
  std::copy(data.begin(), data.end(), at);
  return true;
}

void SnapshotPlatform::mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept {
  for (size_t i = 0; i < data.size(); ++i) data[i] = mmio_byte(gpa + i);
  mmio_.push_back({false, gpa, {data.begin(), data.end()}});
}

void SnapshotPlatform::mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept {
  mmio_.push_back({true, gpa, {data.begin(), data.end()}});
}

}  // namespace ferry::x86::test

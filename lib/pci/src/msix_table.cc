#include "ferry/pci/msix_table.h"

#include <spdlog/spdlog.h>

#include "ferry/pci/config_regs.h"

namespace ferry::pci {

MsixTable::MsixTable(std::string owner, unsigned vectors, accel::Vm& vm, irq::MsiRouteTable& routes)
    : owner_(std::move(owner)), vm_(vm), routes_(routes), vectors_(vectors) {}

MsixTable::~MsixTable() {
  // Stop injection before the route goes: an MSHV irqfd whose route vanished misfires.
  for (Vector& v : vectors_) {
    if (v.irqfd_registered) (void)vm_.unregister_irqfd(v.irqfd->fd(), *v.gsi);
    if (v.gsi) (void)routes_.release(*v.gsi);
  }
}

uint64_t MsixTable::table_bytes() const { return uint64_t{vectors()} * kMsixEntrySize; }

uint64_t MsixTable::pba_bytes() const { return (uint64_t{vectors()} + 63) / 64 * 8; }

uint64_t MsixTable::read_table(uint64_t offset, unsigned size) {
  if ((size != 4 && size != 8) || offset % size != 0 || offset >= table_bytes()) {
    return ~uint64_t{0};
  }
  std::lock_guard lock(mutex_);
  uint64_t value = read_dword(offset);
  if (size == 8) value |= uint64_t{read_dword(offset + 4)} << 32;
  return value;
}

void MsixTable::write_table(uint64_t offset, unsigned size, uint64_t value) {
  if ((size != 4 && size != 8) || offset % size != 0 || offset >= table_bytes()) return;
  std::lock_guard lock(mutex_);
  write_dword(offset, static_cast<uint32_t>(value));
  if (size == 8) write_dword(offset + 4, static_cast<uint32_t>(value >> 32));
  send_pending();
}

uint64_t MsixTable::read_pba(uint64_t offset, unsigned size) {
  if ((size != 4 && size != 8) || offset % size != 0 || offset >= pba_bytes()) {
    return ~uint64_t{0};
  }
  std::lock_guard lock(mutex_);
  uint64_t value = 0;
  const uint64_t first = offset * 8;  // a bit per vector
  for (uint64_t bit = 0; bit < 8 * size && first + bit < vectors_.size(); ++bit) {
    if (vectors_[first + bit].pending) value |= uint64_t{1} << bit;
  }
  return value;
}

uint32_t MsixTable::read_dword(uint64_t offset) const {
  const Vector& v = vectors_[offset / kMsixEntrySize];
  switch (offset % kMsixEntrySize) {
    case kMsixEntryAddressLo:
      return v.address_lo;
    case kMsixEntryAddressHi:
      return v.address_hi;
    case kMsixEntryData:
      return v.data;
    default:
      return v.control;
  }
}

void MsixTable::write_dword(uint64_t offset, uint32_t value) {
  Vector& v = vectors_[offset / kMsixEntrySize];
  switch (offset % kMsixEntrySize) {
    case kMsixEntryAddressLo:
      v.address_lo = value & ~3u;  // dword-aligned message address
      return;
    case kMsixEntryAddressHi:
      v.address_hi = value;
      return;
    case kMsixEntryData:
      v.data = value;
      return;
    default:
      v.control = value & kMsixEntryMasked;  // the rest is reserved (or steering tags: none)
      return;
  }
}

void MsixTable::set_control(bool enabled, bool function_masked) {
  std::lock_guard lock(mutex_);
  enabled_ = enabled;
  function_masked_ = function_masked;
  send_pending();
}

MsixTable::Raised MsixTable::raise(unsigned vector) {
  std::lock_guard lock(mutex_);
  if (vector >= vectors_.size() || !enabled_) return Raised::kDropped;
  Vector& v = vectors_[vector];
  if (!deliverable(v)) {
    v.pending = true;
    return Raised::kPending;
  }
  return deliver(vector) ? Raised::kSent : Raised::kDropped;
}

bool MsixTable::deliverable(const Vector& v) const {
  return enabled_ && !function_masked_ && !(v.control & kMsixEntryMasked);
}

void MsixTable::send_pending() {
  for (unsigned i = 0; i < vectors_.size(); ++i) {
    if (vectors_[i].pending && deliverable(vectors_[i])) {
      vectors_[i].pending = !deliver(i);  // a failed delivery stays pending
    }
  }
}

bool MsixTable::deliver(unsigned index) {
  Vector& v = vectors_[index];
  auto failed = [&](const Error& e) {
    spdlog::warn("{}: MSI-X vector {} not sent: {}", owner_, index, e.message());
    return false;
  };
  if (!v.gsi) {
    auto gsi = routes_.allocate();
    if (!gsi) return failed(gsi.error());
    v.gsi = *gsi;
  }
  const uint64_t address = uint64_t{v.address_hi} << 32 | v.address_lo;
  if (auto routed = routes_.set_route(*v.gsi, address, v.data); !routed) {
    return failed(routed.error());
  }
  if (!v.irqfd) {
    auto fd = EventFd::create();
    if (!fd) return failed(fd.error());
    v.irqfd.emplace(std::move(*fd));
  }
  if (!v.irqfd_registered) {
    if (auto wired = vm_.register_irqfd(v.irqfd->fd(), *v.gsi); !wired) {
      return failed(wired.error());
    }
    v.irqfd_registered = true;
  }
  if (auto sent = v.irqfd->signal(); !sent) return failed(sent.error());
  sent_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace ferry::pci

#include "ferry/pci/msix_table.h"

#include <spdlog/spdlog.h>

#include "ferry/pci/config_regs.h"

namespace ferry::pci {

MsixTable::MsixTable(std::string owner, unsigned vectors, irq::MsiRouteTable& routes,
                     const TriggerFactory& triggers)
    : owner_(std::move(owner)), routes_(routes), vectors_(vectors) {
  for (unsigned i = 0; i < vectors; ++i) {
    vectors_[i].msi = std::make_unique<irq::MsiVector>(routes, triggers ? triggers(i) : nullptr);
  }
}

MsixTable::~MsixTable() {
  std::lock_guard lock(mutex_);
  irq::MsiBatch batch(routes_);  // every vector down in one commit, then destroyed
  for (Vector& v : vectors_) v.msi->set_masked(batch, true);
  commit(batch);
}

uint32_t MsixTable::sent() const {
  uint64_t sent = 0;
  for (const Vector& v : vectors_) sent += v.msi->sent();
  return static_cast<uint32_t>(sent);
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
  spdlog::trace("{}: MSI-X table {:#x} <- {:#x} ({} bytes)", owner_, offset, value, size);
  write_dword(offset, static_cast<uint32_t>(value));
  if (size == 8) write_dword(offset + 4, static_cast<uint32_t>(value >> 32));
  irq::MsiBatch batch(routes_);  // one table write exit, one commit
  sync(batch, static_cast<unsigned>(offset / kMsixEntrySize));
  commit(batch);
}

uint64_t MsixTable::read_pba(uint64_t offset, unsigned size) {
  if ((size != 4 && size != 8) || offset % size != 0 || offset >= pba_bytes()) {
    return ~uint64_t{0};
  }
  std::lock_guard lock(mutex_);
  uint64_t value = 0;
  const uint64_t first = offset * 8;  // a bit per vector
  for (uint64_t bit = 0; bit < 8 * size && first + bit < vectors_.size(); ++bit) {
    if (vectors_[first + bit].msi->pending()) value |= uint64_t{1} << bit;
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
  spdlog::trace("{}: MSI-X {}, function {}", owner_, enabled ? "enabled" : "disabled",
                function_masked ? "masked" : "unmasked");
  enabled_ = enabled;
  function_masked_ = function_masked;
  irq::MsiBatch batch(routes_);  // enabling N vectors commits once
  for (unsigned i = 0; i < vectors_.size(); ++i) sync(batch, i);
  commit(batch);
}

MsixTable::Raised MsixTable::raise(unsigned vector) {
  std::lock_guard lock(mutex_);
  if (vector >= vectors_.size() || !enabled_) return Raised::kDropped;
  switch (vectors_[vector].msi->signal()) {
    case irq::MsiVector::Signal::kSent:
      return Raised::kSent;
    case irq::MsiVector::Signal::kPending:
      return Raised::kPending;
    case irq::MsiVector::Signal::kDropped:
      return Raised::kDropped;  // the entry's message is not an interrupt
    case irq::MsiVector::Signal::kFailed:
      break;
  }
  spdlog::warn("{}: MSI-X vector {} not sent", owner_, vector);
  return Raised::kDropped;
}

bool MsixTable::deliverable(const Vector& v) const {
  return enabled_ && !function_masked_ && !(v.control & kMsixEntryMasked);
}

void MsixTable::sync(irq::MsiBatch& batch, unsigned index) {
  Vector& v = vectors_[index];
  v.msi->set_message(batch, uint64_t{v.address_hi} << 32 | v.address_lo, v.data);
  v.msi->set_masked(batch, !deliverable(v));
}

void MsixTable::commit(irq::MsiBatch& batch) {
  if (auto committed = batch.commit(); !committed) {
    spdlog::warn("{}: MSI-X routing not committed: {}", owner_, committed.error().message());
  }
}

}  // namespace ferry::pci

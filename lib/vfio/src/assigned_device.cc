#include "ferry/vfio/assigned_device.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "ferry/base/checked.h"
#include "ferry/base/units.h"
#include "ferry/irq/msi_batch.h"
#include "ferry/pci/config_regs.h"

namespace ferry::vfio {
namespace {

constexpr uint64_t kPage = 4096;

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}
constexpr uint16_t kCommandForwarded = pci::kCommandIo | pci::kCommandMemory |
                                       pci::kCommandBusMaster | pci::kCommandParity |
                                       pci::kCommandSerr | pci::kCommandIntxDisable;

// [begin, end) minus the page-aligned hull of each of `holes`.
std::vector<Area> subtract(const Area& area, std::vector<Area> holes) {
  std::vector<Area> out{area};
  for (const Area& hole : holes) {
    const uint64_t begin = hole.offset / kPage * kPage;
    const uint64_t end = (hole.offset + hole.size + kPage - 1) / kPage * kPage;
    std::vector<Area> next;
    for (const Area& a : out) {
      const uint64_t a_end = a.offset + a.size;
      if (end <= a.offset || begin >= a_end) {
        next.push_back(a);
        continue;
      }
      if (begin > a.offset) next.push_back({a.offset, begin - a.offset});
      if (end < a_end) next.push_back({end, a_end - end});
    }
    out = std::move(next);
  }
  return out;
}

pci::FunctionIdentity identity_of(const std::array<uint8_t, 256>& raw) {
  return {
      .vendor_id = static_cast<uint16_t>(config_value(raw, pci::kVendorId, 2)),
      .device_id = static_cast<uint16_t>(config_value(raw, pci::kDeviceId, 2)),
      .class_code = config_value(raw, pci::kClassCode, 3),
      .revision = raw[pci::kRevision],
      .subsystem_vendor_id = static_cast<uint16_t>(config_value(raw, pci::kSubsystemVendorId, 2)),
      .subsystem_id = static_cast<uint16_t>(config_value(raw, pci::kSubsystemId, 2))};
}

}  // namespace

Expected<std::shared_ptr<AssignedDevice>> AssignedDevice::create(
    Device device, accel::Vm& vm, irq::MsiRouteTable& routes, pci::BarSpaces spaces,
    Resetter& resetter, std::optional<IntxWiring> intx, BarDma* p2p) {
  // A device a killed VM left busy starts clean.
  std::optional<std::string> not_reset;
  if (auto reset = resetter.reset(device); !reset) {
    if (reset.error().code() == Errc::kUnsupported) {
      not_reset = reset.error().message();
    } else {
      spdlog::warn("{}", reset.error().message());
    }
  }
  std::array<uint8_t, 256> raw{};
  FERRY_TRY(device.read(kConfigRegion, 0, raw));
  const pci::FunctionIdentity identity = identity_of(raw);
  if ((raw[pci::kHeaderType] & 0x7f) != 0) {
    return fail(Errc::kUnsupported,
                "{}: header type {:#x}: only endpoints (type 0) can be assigned", device.bdf(),
                raw[pci::kHeaderType]);
  }
  std::shared_ptr<AssignedDevice> assigned(new AssignedDevice(
      std::move(device), vm, routes, identity, std::move(spaces), raw, resetter, p2p, !not_reset));
  if (not_reset) assigned->notes_.push_back(std::move(*not_reset));
  FERRY_TRY(assigned->set_up_bars());
  assigned->set_up_header_and_capabilities();
  FERRY_TRY(assigned->set_up_interrupts());
  const bool has_pin =
      raw[pci::kInterruptPin] != 0 && assigned->device_->irq(IrqIndex::kIntx).count > 0;
  if (has_pin && intx) {
    FERRY_TRY(assigned->start_intx(*intx));
  } else if (has_pin) {
    assigned->notes_.push_back(
        "its INTx pin is hidden (no IOAPIC pin left for it); the guest "
        "can use MSI or MSI-X");
  }
  for (const std::string& note : assigned->notes_) spdlog::info("{}: {}", assigned->bdf_, note);
  return assigned;
}

AssignedDevice::AssignedDevice(Device device, accel::Vm& vm, irq::MsiRouteTable& routes,
                               const pci::FunctionIdentity& identity, pci::BarSpaces spaces,
                               const std::array<uint8_t, 256>& raw, Resetter& resetter, BarDma* p2p,
                               bool resettable)
    : Endpoint("vfio " + device.bdf(), identity, std::move(spaces)),
      device_(std::move(device)),
      bdf_(device_->bdf()),
      vm_(vm),
      routes_(routes),
      raw_(raw),
      plan_(plan_config(raw_)),
      resetter_(resetter),
      p2p_(p2p),
      resettable_(resettable) {}

AssignedDevice::~AssignedDevice() { release(); }

Expected<void> AssignedDevice::set_up_bars() {
  for (unsigned index = 0; index < pci::kBarCount; ++index) {
    const RegionInfo& region = device_->region(index);
    if (region.size == 0) continue;
    const uint32_t reg = config_value(raw_, pci::kBar0 + 4 * index, 4);
    pci::BarSpec spec{.kind = pci::BarKind::kMemory32, .size = region.size, .prefetchable = false};
    if (reg & pci::kBarIo) {
      spec.kind = pci::BarKind::kIo;
    } else {
      if (((reg >> 1) & 3) == 2) spec.kind = pci::BarKind::kMemory64;
      spec.prefetchable = (reg & pci::kBarPrefetchable) != 0;
    }
    FERRY_TRY(add_bar(index, spec));
    if (spec.kind != pci::BarKind::kIo) FERRY_TRY(map_bar_pieces(index));
    if (spec.kind == pci::BarKind::kMemory64) ++index;  // the upper half
  }
  const RegionInfo& rom = device_->region(kRomRegion);
  if (rom.size != 0 && rom.readable) {
    std::vector<uint8_t> image(rom.size);
    if (auto read = device_->read(kRomRegion, 0, image); !read) {
      notes_.push_back("its expansion ROM could not be read, so the guest sees none (" +
                       read.error().message() + ")");
    } else {
      FERRY_TRY(set_rom(std::move(image)));
    }
  }
  return {};
}

Expected<void> AssignedDevice::map_bar_pieces(unsigned index) {
  const RegionInfo& region = device_->region(index);
  if (!region.mappable || region.size < kPage) return {};  // every access trapped
  std::vector<Area> holes;
  if (const auto& m = plan_.msix) {
    // The table stays trapped even where the kernel would let it be mmapped: its writes are
    // what programs the interrupt routes.
    if (m->table_bar == index) holes.push_back({m->table_offset, m->table_bytes()});
    if (m->pba_bar == index) holes.push_back({m->pba_offset, m->pba_bytes()});
  }
  const auto start = std::chrono::steady_clock::now();
  for (const Area& area : region.mmap_areas) {
    for (const Area& piece : subtract(area, holes)) {
      if (piece.offset % kPage != 0 || piece.size % kPage != 0 || piece.size == 0) continue;
      auto host = device_->sys().map(device_->fd(), piece.size,
                                     static_cast<off_t>(region.offset + piece.offset));
      if (!host) {
        return fail(std::move(host).error().context(
            fmt::format("{}: BAR {} at {:#x}+{:#x}", bdf_, index, piece.offset, piece.size)));
      }
      pieces_[index].push_back({piece.offset, std::move(*host), std::nullopt});
    }
  }
  mmap_ms_[index] = milliseconds_since(start);
  return {};
}

void AssignedDevice::set_up_header_and_capabilities() {
  pci::ConfigSpace& c = config();
  const uint16_t status =
      config_value(raw_, pci::kStatus, 2) & ~pci::kStatusErrorBits & ~pci::kStatusCapabilityList;
  c.set(pci::kStatus, 2, status | (plan_.kept.empty() ? 0 : pci::kStatusCapabilityList));
  c.set(pci::kHeaderType, 1, 0);  // one function per guest slot
  c.set(pci::kCapabilityPointer, 1, plan_.kept.empty() ? 0 : plan_.kept.front().offset);
  c.set(pci::kInterruptPin, 1, 0);  // until start_intx() wires the pin
  for (const KeptCapability& cap : plan_.kept) {
    c.set(cap.offset, 1, cap.id);
    c.set(cap.offset + 1, 1, cap.next);
  }
  if (plan_.msix) {
    const uint16_t at = plan_.msix->cap;
    for (unsigned i = 2; i < pci::kMsixCapabilitySize; ++i) c.set(at + i, 1, raw_[at + i]);
    c.set(at + pci::kMsixControl, 2,
          config_value(raw_, at + pci::kMsixControl, 2) & pci::kMsixTableSizeMask);
    c.set_writable(at + pci::kMsixControl, 2, pci::kMsixEnable | pci::kMsixFunctionMask);
  }
  if (plan_.msi) {
    const MsiLayout& msi = *plan_.msi;
    // One vector: Multiple Message Capable reads 0, so the guest never enables more.
    const uint16_t control = config_value(raw_, msi.cap + pci::kMsiControl, 2) &
                             (pci::kMsi64Bit | pci::kMsiPerVectorMask);
    c.set(msi.cap + pci::kMsiControl, 2, control);
    c.set_writable(msi.cap + pci::kMsiControl, 2, pci::kMsiEnable);
    c.set_writable(msi.cap + pci::kMsiAddress, 4, 0xfffffffc);
    if (msi.is_64bit) c.set_writable(msi.cap + pci::kMsiAddress + 4, 4, 0xffffffff);
    c.set_writable(msi.cap + msi.data_offset(), 2, 0xffff);
    if (msi.per_vector_mask) c.set_writable(msi.cap + msi.mask_offset(), 4, 1);
    if ((config_value(raw_, msi.cap + pci::kMsiControl, 2) >> 1 & 7) != 0) {
      notes_.push_back("its MSI capability offers one vector (the device can take more)");
    }
  }
  for (const std::string& hidden : plan_.hidden) {
    notes_.push_back("its " + hidden + " capability is hidden from the guest");
  }
}

Expected<void> AssignedDevice::set_up_interrupts() {
  if (plan_.msix) {
    const MsixLayout& m = *plan_.msix;
    const RegionInfo& table_bar = device_->region(m.table_bar);
    const RegionInfo& pba_bar = device_->region(m.pba_bar);
    if (m.table_bar >= pci::kBarCount || m.pba_bar >= pci::kBarCount ||
        m.table_offset + m.table_bytes() > table_bar.size ||
        m.pba_offset + m.pba_bytes() > pba_bar.size ||
        device_->irq(IrqIndex::kMsix).count < m.vectors) {
      return fail(Errc::kUnsupported,
                  "{}: its MSI-X capability ({} vectors, table in BAR {} at {:#x}, PBA in BAR {} "
                  "at {:#x}) does not fit its BARs or VFIO's {} vectors",
                  bdf_, m.vectors, m.table_bar, m.table_offset, m.pba_bar, m.pba_offset,
                  device_->irq(IrqIndex::kMsix).count);
    }
    msix_irqs_ = std::make_unique<IrqIndexState>(*device_, IrqIndex::kMsix, m.vectors,
                                                 [this] { stop_intx(); });
    msix_ = std::make_unique<pci::MsixTable>(name(), m.vectors, routes_,
                                             [this](unsigned i) { return msix_irqs_->trigger(i); });
  }
  if (plan_.msi && device_->irq(IrqIndex::kMsi).count >= 1) {
    msi_irqs_ =
        std::make_unique<IrqIndexState>(*device_, IrqIndex::kMsi, 1, [this] { stop_intx(); });
    msi_ = std::make_unique<irq::MsiVector>(routes_, msi_irqs_->trigger(0));
  }
  return {};
}

Expected<void> AssignedDevice::start_intx(const IntxWiring& wiring) {
  std::lock_guard lock(intx_mutex_);
  FERRY_ASSIGN(EventFd trigger, EventFd::create());
  FERRY_ASSIGN(EventFd resample, EventFd::create());
  intx_trigger_.emplace(std::move(trigger));
  intx_resample_.emplace(std::move(resample));
  const int32_t fd = intx_trigger_->fd();
  FERRY_TRY(device_->set_irq_eventfds(IrqIndex::kIntx, 0, std::span(&fd, 1)));
  FERRY_TRY(device_->set_intx_unmask_eventfd(intx_resample_->fd()));
  FERRY_ASSIGN(intx_line_, irq::ResampledLine::create(wiring.ioapic, wiring.pin, wiring.loop,
                                                      *intx_trigger_, *intx_resample_));
  // As firmware would: the pin the device's INTx reaches, in Interrupt Line.
  config().set(pci::kInterruptPin, 1, raw_[pci::kInterruptPin]);
  config().set(pci::kInterruptLine, 1, wiring.pin);
  notes_.push_back(
      fmt::format("its INTx is IOAPIC pin {} until the guest enables MSI or MSI-X", wiring.pin));
  return {};
}

void AssignedDevice::stop_intx() {
  std::lock_guard lock(intx_mutex_);
  if (!intx_line_) return;
  intx_line_.reset();  // the pin deasserts and stops watching the trigger
  if (auto off = device_->disable_irqs(IrqIndex::kIntx); !off) {
    spdlog::warn("{}", off.error().message());
  }
  intx_trigger_.reset();
  intx_resample_.reset();
}

bool AssignedDevice::in_msix_table(unsigned index, uint64_t offset, size_t size) const {
  return msix_ && index == plan_.msix->table_bar &&
         ranges_overlap(offset, size, plan_.msix->table_offset, msix_->table_bytes());
}

bool AssignedDevice::in_msix_pba(unsigned index, uint64_t offset, size_t size) const {
  return msix_ && index == plan_.msix->pba_bar &&
         ranges_overlap(offset, size, plan_.msix->pba_offset, msix_->pba_bytes());
}

void AssignedDevice::bar_read(unsigned index, uint64_t offset, std::span<uint8_t> data) noexcept {
  std::memset(data.data(), 0xff, data.size());
  if (released_.load(std::memory_order_acquire) || data.size() > 8) return;
  uint64_t value = ~uint64_t{0};
  const auto size = static_cast<unsigned>(data.size());
  if (in_msix_table(index, offset, size)) {
    value = msix_->read_table(offset - plan_.msix->table_offset, size);
  } else if (in_msix_pba(index, offset, size)) {
    value = msix_->read_pba(offset - plan_.msix->pba_offset, size);
  } else {
    if (auto read = device_->read(index, offset, data); !read) {
      spdlog::debug("{}", read.error().message());
    }
    return;
  }
  std::memcpy(data.data(), &value, data.size());
}

void AssignedDevice::bar_write(unsigned index, uint64_t offset,
                               std::span<const uint8_t> data) noexcept {
  if (released_.load(std::memory_order_acquire) || data.size() > 8) return;
  const auto size = static_cast<unsigned>(data.size());
  if (in_msix_table(index, offset, size)) {
    uint64_t value = 0;
    std::memcpy(&value, data.data(), data.size());
    msix_->write_table(offset - plan_.msix->table_offset, size, value);
    return;
  }
  if (in_msix_pba(index, offset, size)) return;  // read-only
  if (auto written = device_->write(index, offset, data); !written) {
    spdlog::debug("{}", written.error().message());
  }
}

uint32_t AssignedDevice::config_read_through(uint16_t offset, unsigned size, uint32_t emulated) {
  if (offset >= 256 || released_.load(std::memory_order_acquire)) return emulated;
  bool any = false;
  for (unsigned i = 0; i < size; ++i) any |= plan_.forwarded.test(offset + i);
  if (!any) return emulated;
  uint8_t bytes[4] = {};
  if (auto read = device_->read(kConfigRegion, offset, std::span(bytes, size)); !read) {
    spdlog::debug("{}", read.error().message());
    return emulated;
  }
  uint32_t value = emulated;
  for (unsigned i = 0; i < size; ++i) {
    if (!plan_.forwarded.test(offset + i)) continue;
    value = (value & ~(0xffu << (8 * i))) | uint32_t{bytes[i]} << (8 * i);
  }
  return value;
}

void AssignedDevice::config_write_through(uint16_t offset, unsigned size, uint32_t value) {
  if (offset >= 256 || released_.load(std::memory_order_acquire)) return;
  for (unsigned i = 0; i < size; ++i) {
    const uint16_t at = offset + i;
    const uint8_t byte = static_cast<uint8_t>(value >> (8 * i));
    if (plan_.forwarded.test(at)) {
      (void)device_->write(kConfigRegion, at, std::span(&byte, 1));
    }
  }
  // Decoding, bus mastering and INTx disable are the device's to act on too.
  if (offset <= pci::kCommand && offset + size > pci::kCommand) {
    const uint16_t command =
        static_cast<uint16_t>(value >> (8 * (pci::kCommand - offset))) & kCommandForwarded;
    const uint8_t bytes[2] = {static_cast<uint8_t>(command), static_cast<uint8_t>(command >> 8)};
    const unsigned n = std::min<unsigned>(2, offset + size - pci::kCommand);
    if (auto written = device_->write(kConfigRegion, pci::kCommand, std::span(bytes, n));
        !written) {
      spdlog::warn("{}", written.error().message());
    }
  }
}

void AssignedDevice::config_written(uint16_t offset, unsigned size) {
  auto touches = [&](uint16_t begin, unsigned length) {
    return offset < begin + length && offset + size > begin;
  };
  if (msix_ && touches(plan_.msix->cap + pci::kMsixControl, 2)) update_msix_control();
  if (msi_ && touches(plan_.msi->cap, plan_.msi->length())) update_msi();
}

void AssignedDevice::update_msix_control() {
  const uint32_t control = config().get(plan_.msix->cap + pci::kMsixControl, 2);
  const bool enabled = (control & pci::kMsixEnable) != 0;
  // The device's enable bit changes first when the guest sets it, last when it clears it, so the
  // vectors lib/irq brings up or down always find it on (irq_index.h).
  if (enabled) mirror_enable(*msix_irqs_, true, "MSI-X");
  msix_->set_control(enabled, (control & pci::kMsixFunctionMask) != 0);
  if (!enabled) mirror_enable(*msix_irqs_, false, "MSI-X");
}

void AssignedDevice::mirror_enable(IrqIndexState& irqs, bool enabled, const char* what) {
  if (auto mirrored = irqs.set_guest_enabled(enabled); !mirrored) {
    spdlog::warn("{}: {} {} on the device: {}", bdf_, enabled ? "enabling" : "disabling", what,
                 mirrored.error().message());
  }
}

void AssignedDevice::update_msi() {
  const pci::ConfigSpace& c = config();
  const MsiLayout& msi = *plan_.msi;
  const bool enabled = c.get(msi.cap + pci::kMsiControl, 2) & pci::kMsiEnable;
  uint64_t address = c.get(msi.cap + pci::kMsiAddress, 4);
  if (msi.is_64bit) address |= uint64_t{c.get(msi.cap + pci::kMsiAddress + 4, 4)} << 32;
  const uint32_t data = c.get(msi.cap + msi.data_offset(), 2);
  const bool masked = msi.per_vector_mask && (c.get(msi.cap + msi.mask_offset(), 4) & 1);
  if (enabled) mirror_enable(*msi_irqs_, true, "MSI");
  irq::MsiBatch batch(routes_);
  msi_->set_message(batch, address, data);
  msi_->set_masked(batch, !enabled || masked);
  if (auto committed = batch.commit(); !committed) {
    spdlog::warn("{}: MSI: {}", bdf_, committed.error().message());
  }
  if (!enabled) mirror_enable(*msi_irqs_, false, "MSI");
}

void AssignedDevice::bar_moved(unsigned index, std::optional<uint64_t> from,
                               std::optional<uint64_t> to) {
  if (released_.load(std::memory_order_acquire)) return;
  move_pieces(index, from, to);
}

void AssignedDevice::move_pieces(unsigned index, std::optional<uint64_t> from,
                                 std::optional<uint64_t> to) {
  const auto start = std::chrono::steady_clock::now();
  double dma_ms = 0;  // of which the peer-to-peer DMA maps
  for (MappedPiece& piece : pieces_[index]) {
    if (piece.dma_at) unmap_p2p(index, piece);  // before the BAR leaves: no device DMAs there
    if (from) {
      if (auto unmapped = vm_.unmap_memory(*from + piece.offset, piece.host.size()); !unmapped) {
        spdlog::error("{}: BAR {}: {}", bdf_, index, unmapped.error().message());
      }
    }
    if (to) {
      if (auto mapped =
              vm_.map_device_memory(*to + piece.offset, piece.host.size(), piece.host.data());
          !mapped) {
        // The piece stays trapped: slower, still correct (bar_read/bar_write forward it).
        spdlog::warn("{}: BAR {} at {:#x}: {}", bdf_, index, *to + piece.offset,
                     mapped.error().message());
      }
      if (p2p_ != nullptr) {
        const auto dma_start = std::chrono::steady_clock::now();
        map_p2p(index, piece, *to + piece.offset);
        dma_ms += milliseconds_since(dma_start);
      }
    }
  }
  guest_at_[index] = to;
  // Where ferry put each mapped BAR and what mapping it cost (multi-GiB BARs: docs/vfio.md).
  if (to && !pieces_[index].empty() && !announced_[index]) {
    announced_[index] = true;
    const uint64_t size = device_->region(index).size;
    const double total_ms = milliseconds_since(start);
    spdlog::info(
        "{}: BAR {} ({}) at {:#x}-{:#x}, mapped into the guest in {:.3f} ms (mmap {:.3f} "
        "ms, {} memory slot{} {:.3f} ms{})",
        bdf_, index, format_size(size), *to, *to + (size - 1), mmap_ms_[index] + total_ms,
        mmap_ms_[index], pieces_[index].size(), pieces_[index].size() == 1 ? "" : "s",
        total_ms - dma_ms,
        p2p_ != nullptr ? fmt::format(", peer-to-peer DMA map {:.3f} ms", dma_ms) : "");
  }
}

void AssignedDevice::release() {
  if (released_.exchange(true)) return;
  // 1. Interrupts: each vector's irqfd, route and VFIO trigger go, in lib/irq's order.
  msix_.reset();
  msi_.reset();
  if (msix_irqs_) msix_irqs_->disable();
  if (msi_irqs_) msi_irqs_->disable();
  stop_intx();
  // 2. The BARs leave the guest, then this process.
  for (unsigned index = 0; index < pci::kBarCount; ++index) {
    move_pieces(index, guest_at_[index], std::nullopt);
    pieces_[index].clear();
  }
  // 3. The device is reset for whoever takes it next (FLR, or the bus hot reset the Assignment
  // can do), then closed.
  if (resettable_) {
    if (auto reset = resetter_.reset(*device_); !reset) {
      spdlog::warn("{}", reset.error().message());
    }
  }
  device_.reset();
}

void AssignedDevice::secondary_bus_reset() {
  // The host kernel saves and restores the device's state around the reset (config space, MSI-X
  // table and enables), so the BAR mappings and vectors ferry set up stay valid; the guest's
  // driver restores its own view, as after any bus reset.
  if (released_ || !device_) return;
  Expected<void> reset = resettable_
                             ? resetter_.reset(*device_)
                             : fail(Errc::kUnsupported, "ferry cannot reset it (said at start)");
  if (reset) {
    // The first is worth a line; a guest may reset as often as it likes after that.
    spdlog::log(++guest_resets_ == 1 ? spdlog::level::info : spdlog::level::debug,
                "{}: reset by the guest (Secondary Bus Reset of its root port)", bdf_);
    return;
  }
  // The guest can ask for resets at will: say the first failure, not every one.
  if (!guest_reset_failure_said_.exchange(true)) {
    spdlog::warn("{}: the guest reset its root port's bus, but the device was not reset: {}", bdf_,
                 reset.error().message());
  }
}

}  // namespace ferry::vfio

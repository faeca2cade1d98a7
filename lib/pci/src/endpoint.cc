#include "ferry/pci/endpoint.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "ferry/base/checked.h"

namespace ferry::pci {
namespace {

constexpr uint16_t kCommandAlwaysWritable =
    kCommandBusMaster | kCommandParity | kCommandSerr | kCommandIntxDisable;

bool touches(uint16_t offset, unsigned size, uint16_t begin, uint16_t end) {
  return offset < end && offset + size > begin;
}

}  // namespace

class Endpoint::Region final : public bus::BusDevice {
 public:
  Region(std::shared_ptr<Endpoint> owner, unsigned index)
      : owner_(std::move(owner)), index_(index) {}
  void read(uint64_t offset, std::span<uint8_t> data) noexcept override {
    owner_->region_read(index_, offset, data);
  }
  void write(uint64_t offset, std::span<const uint8_t> data) noexcept override {
    owner_->region_write(index_, offset, data);
  }

 private:
  std::shared_ptr<Endpoint> owner_;
  unsigned index_;
};

Endpoint::Endpoint(std::string name, const FunctionIdentity& identity, BarSpaces spaces)
    : name_(std::move(name)), spaces_(std::move(spaces)) {
  config_.set(kVendorId, 2, identity.vendor_id);
  config_.set(kDeviceId, 2, identity.device_id);
  config_.set_writable(kCommand, 2, kCommandAlwaysWritable);
  config_.set_write_one_to_clear(kStatus, 2, kStatusErrorBits);
  config_.set(kRevision, 1, identity.revision);
  config_.set(kClassCode, 3, identity.class_code);
  config_.set_writable(kCacheLineSize, 1, 0xff);
  config_.set(kSubsystemVendorId, 2, identity.subsystem_vendor_id);
  config_.set(kSubsystemId, 2, identity.subsystem_id);
  config_.set_writable(kInterruptLine, 1, 0xff);
}

Expected<void> Endpoint::add_bar(unsigned index, const BarSpec& spec) {
  const bool wide = spec.kind == BarKind::kMemory64;
  if (index >= kBarCount || (wide && index + 1 >= kBarCount)) {
    return fail(Errc::kInvalidArgument, "{}: BAR {} does not exist{}", name_, index,
                wide ? " for a 64-bit BAR (it takes two registers, so 0-4)" : " (0-5)");
  }
  if (decoders_[index].spec || decoders_[index].upper_half ||
      (wide && (decoders_[index + 1].spec || decoders_[index + 1].upper_half))) {
    return fail(Errc::kExists, "{}: BAR {} is already in use", name_, index);
  }
  if (auto checked = check_bar_spec(spec); !checked) {
    return fail(checked.error().context(fmt::format("{}: BAR {}", name_, index)));
  }
  const uint16_t reg = kBar0 + 4 * index;
  const uint64_t address_mask = ~(spec.size - 1);
  if (spec.kind == BarKind::kIo) {
    // The function decodes 16-bit port numbers: the upper half of the register is zero.
    config_.set(reg, 4, kBarIo);
    config_.set_writable(reg, 4, static_cast<uint32_t>(address_mask) & 0x0000fffc);
  } else {
    config_.set(reg, 4, (wide ? kBarMemory64 : 0) | (spec.prefetchable ? kBarPrefetchable : 0));
    config_.set_writable(reg, 4, static_cast<uint32_t>(address_mask) & 0xfffffff0);
    if (wide) {
      config_.set_writable(reg + 4, 4, static_cast<uint32_t>(address_mask >> 32));
      decoders_[index + 1].upper_half = true;
    }
  }
  decoders_[index].spec = spec;
  allow_decode_bits();
  return {};
}

Expected<void> Endpoint::set_rom(std::vector<uint8_t> image) {
  const uint64_t size = std::max<uint64_t>(std::bit_ceil(image.size()), kMinRomSize);
  if (size > kMaxRomSize) {
    return fail(Errc::kInvalidArgument,
                "{}: a ROM of {} bytes is over the {} bytes a ROM BAR decodes", name_, image.size(),
                kMaxRomSize);
  }
  config_.set_writable(kRomBar, 4,
                       (static_cast<uint32_t>(~(size - 1)) & kRomAddressMask) | kRomEnable);
  decoders_[kRomIndex].spec = BarSpec{BarKind::kMemory32, size, false};
  rom_ = std::move(image);
  allow_decode_bits();
  return {};
}

void Endpoint::allow_decode_bits() {
  // A function without I/O (or memory) decoders hardwires the matching enable bit to zero.
  uint16_t writable = kCommandAlwaysWritable;
  for (const Decoder& d : decoders_) {
    if (d.spec) writable |= d.spec->kind == BarKind::kIo ? kCommandIo : kCommandMemory;
  }
  config_.set_writable(kCommand, 2, writable);
}

std::optional<BarSpec> Endpoint::bar(unsigned index) const {
  if (index > kRomIndex) return std::nullopt;
  std::lock_guard lock(mutex_);
  return decoders_[index].spec;
}

std::optional<uint64_t> Endpoint::bar_mapping(unsigned index) const {
  if (index > kRomIndex) return std::nullopt;
  std::lock_guard lock(mutex_);
  return decoders_[index].mapped_at;
}

bool Endpoint::bus_master_enabled() const noexcept {
  return (command_.load(std::memory_order_acquire) & kCommandBusMaster) != 0;
}

uint32_t Endpoint::config_read(uint16_t offset, unsigned size) {
  std::lock_guard lock(mutex_);
  const uint32_t emulated = config_.read(offset, size);
  if (!ConfigSpace::access_ok(offset, size)) return emulated;
  return config_read_through(offset, size, emulated);
}

void Endpoint::config_write(uint16_t offset, unsigned size, uint32_t value) {
  if (!ConfigSpace::access_ok(offset, size)) return;
  std::lock_guard lock(mutex_);
  config_write_through(offset, size, value);
  config_.write(offset, size, value);
  if (touches(offset, size, kCommand, kCommand + 2)) {
    command_.store(static_cast<uint16_t>(config_.get(kCommand, 2)), std::memory_order_release);
  }
  if (touches(offset, size, kCommand, kCommand + 2) ||
      touches(offset, size, kBar0, kBar0 + 4 * kBarCount) ||
      touches(offset, size, kRomBar, kRomBar + 4)) {
    update_decoders();
  }
  config_written(offset, size);
}

void Endpoint::config_written(uint16_t, unsigned) {}

uint32_t Endpoint::config_read_through(uint16_t, unsigned, uint32_t emulated) { return emulated; }

void Endpoint::config_write_through(uint16_t, unsigned, uint32_t) {}

void Endpoint::bar_moved(unsigned, std::optional<uint64_t>, std::optional<uint64_t>) {}

uint64_t Endpoint::programmed_address(unsigned index) const {
  if (index == kRomIndex) return config_.get(kRomBar, 4) & kRomAddressMask;
  const uint16_t reg = kBar0 + 4 * index;
  const uint32_t low = config_.get(reg, 4);
  switch (decoders_[index].spec->kind) {
    case BarKind::kIo:
      return low & ~3u;
    case BarKind::kMemory32:
      return low & ~0xfu;
    case BarKind::kMemory64:
      return uint64_t{config_.get(reg + 4, 4)} << 32 | (low & ~0xfu);
  }
  return 0;
}

std::optional<uint64_t> Endpoint::wanted_mapping(unsigned index) const {
  const BarSpec& spec = *decoders_[index].spec;
  const uint32_t command = config_.get(kCommand, 2);
  const bool io = spec.kind == BarKind::kIo;
  if (!(command & (io ? kCommandIo : kCommandMemory))) return std::nullopt;
  if (index == kRomIndex && !(config_.get(kRomBar, 4) & kRomEnable)) return std::nullopt;
  const uint64_t address = programmed_address(index);
  const BridgeWindows& w = spaces_.windows;
  const bool forwarded =
      io ? w.io.contains(address, spec.size)
         : w.mmio32.contains(address, spec.size) ||
               (spec.kind == BarKind::kMemory64 && w.mmio64.contains(address, spec.size));
  if (!forwarded) return std::nullopt;
  return address;
}

void Endpoint::update_decoders() {
  // Two passes: a decoder left dark because another of this function's decoders held its range
  // gets the range in the second pass when the first pass moved that one away.
  for (int pass = 0; pass < 2; ++pass) update_decoders_once();
}

void Endpoint::update_decoders_once() {
  for (unsigned index = 0; index <= kRomIndex; ++index) {
    Decoder& d = decoders_[index];
    if (!d.spec) continue;
    const std::optional<uint64_t> wanted = wanted_mapping(index);
    if (wanted == d.mapped_at) continue;
    bus::Bus& bus = d.spec->kind == BarKind::kIo ? spaces_.pio : spaces_.mmio;
    const std::optional<uint64_t> was = d.mapped_at;
    if (d.mapped_at) {
      if (auto removed = bus.remove(*d.mapped_at); !removed) {
        spdlog::error("{}: BAR {}: {}", name_, index, removed.error().message());
      }
      d.mapped_at.reset();
    }
    if (!wanted) {
      if (index != kRomIndex) bar_moved(index, was, std::nullopt);
      continue;
    }
    auto region = std::make_shared<Region>(shared_from_this(), index);
    if (auto inserted = bus.insert(*wanted, d.spec->size, std::move(region)); !inserted) {
      // The guest put two decoders on top of each other: this one stays dark until moved.
      spdlog::debug("{}: BAR {} decodes nothing: {}", name_, index, inserted.error().message());
    } else {
      d.mapped_at = wanted;
    }
    if (index != kRomIndex && was != d.mapped_at) bar_moved(index, was, d.mapped_at);
  }
}

void Endpoint::region_read(unsigned index, uint64_t offset, std::span<uint8_t> data) noexcept {
  if (index != kRomIndex) {
    bar_read(index, offset, data);
    return;
  }
  std::memset(data.data(), 0, data.size());
  if (offset < rom_.size()) {
    const size_t n = std::min<uint64_t>(data.size(), rom_.size() - offset);
    std::memcpy(data.data(), rom_.data() + offset, n);
  }
}

void Endpoint::region_write(unsigned index, uint64_t offset,
                            std::span<const uint8_t> data) noexcept {
  if (index != kRomIndex) bar_write(index, offset, data);  // a ROM ignores writes
}

}  // namespace ferry::pci

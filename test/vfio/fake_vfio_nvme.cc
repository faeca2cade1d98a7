#include "fake_vfio_nvme.h"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>

#include "fake_eventfd.h"

namespace ferry::test {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kOffsetMask = (uint64_t{1} << 40) - 1;
constexpr uint64_t kConfigSize = 4096;  // PCI Express: what vfio-pci reports for region 7
constexpr uint16_t kBusMaster = 1u << 2;

void put(std::array<uint8_t, 256>& c, unsigned at, uint32_t value, unsigned size) {
  for (unsigned i = 0; i < size; ++i) c[at + i] = static_cast<uint8_t>(value >> (8 * i));
}

// QEMU's nvme as `lspci -xxx` shows it in a guest.
std::array<uint8_t, 256> nvme_config() {
  std::array<uint8_t, 256> c{};
  put(c, 0x00, 0x1b36, 2);  // Red Hat, Inc.
  put(c, 0x02, 0x0010, 2);  // QEMU NVM Express Controller
  put(c, 0x06, 0x0010, 2);  // status: capability list
  put(c, 0x08, 0x02, 1);    // revision
  put(c, 0x09, 0x010802, 3);
  put(c, 0x10, 0x00000004, 4);  // BAR0: 64-bit memory, not prefetchable
  put(c, 0x2c, 0x1af4, 2);
  put(c, 0x2e, 0x1100, 2);
  put(c, 0x34, FakeVfioNvme::kMsixCap, 1);
  put(c, 0x3d, 1, 1);  // INTA
  // MSI-X: 65 vectors, table and PBA in BAR0.
  const uint16_t msix = FakeVfioNvme::kMsixCap;
  put(c, msix, 0x11, 1);
  put(c, msix + 1, FakeVfioNvme::kPcieCap, 1);
  put(c, msix + 2, FakeVfioNvme::kVectors - 1, 2);
  put(c, msix + 4, FakeVfioNvme::kTableOffset | 0, 4);
  put(c, msix + 8, FakeVfioNvme::kPbaOffset | 0, 4);
  // PCI Express v2 endpoint, FLR capable.
  const uint16_t pcie = FakeVfioNvme::kPcieCap;
  put(c, pcie, 0x10, 1);
  put(c, pcie + 1, FakeVfioNvme::kPmCap, 1);
  put(c, pcie + 2, 0x0002, 2);
  put(c, pcie + 4, 1u << 28, 4);
  // Power management version 3, the end of the chain.
  const uint16_t pm = FakeVfioNvme::kPmCap;
  put(c, pm, 0x01, 1);
  put(c, pm + 1, 0x00, 1);
  put(c, pm + 2, 0x0003, 2);
  return c;
}

bool overlaps(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size) {
  return a < b + b_size && b < a + a_size;
}

}  // namespace

FakeVfioNvme::FakeVfioNvme(std::function<void(std::string)> journal,
                           std::function<void(std::string)> note)
    : journal_(std::move(journal)), note_(std::move(note)), config_(nvme_config()) {
  bar0_ = UniqueFd(::memfd_create("fake_nvme_bar0", MFD_CLOEXEC));
  if (!bar0_.valid() || ::ftruncate(bar0_.get(), kBar0Size) != 0) {
    note_("fake nvme: no memfd for BAR0");
  }
}

int FakeVfioNvme::get_info(vfio_device_info& info) const {
  if (info.argsz < sizeof info) return -EINVAL;
  info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
  info.num_regions = VFIO_PCI_NUM_REGIONS;
  info.num_irqs = VFIO_PCI_NUM_IRQS;
  return 0;
}

int FakeVfioNvme::region_info(vfio_region_info& info, bool fail) const {
  if (info.argsz < sizeof info) return -EINVAL;
  if (fail) return -EIO;  // FakeVfio's injected failure
  const uint32_t given = info.argsz;
  info.flags = 0;
  info.cap_offset = 0;
  info.offset = region_offset(info.index);
  switch (info.index) {
    case VFIO_PCI_BAR0_REGION_INDEX: {
      info.size = kBar0Size;
      info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
                   VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
      // The MSI-X BAR: the table may be mmapped (x86 since 4.16), said in a capability.
      const uint32_t wanted = sizeof info + sizeof(vfio_info_cap_header);
      if (given < wanted) {
        info.argsz = wanted;  // the caller asks again with room for it
        return 0;
      }
      vfio_info_cap_header cap{.id = VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, .version = 1, .next = 0};
      std::memcpy(reinterpret_cast<uint8_t*>(&info) + sizeof info, &cap, sizeof cap);
      info.cap_offset = sizeof info;
      return 0;
    }
    case VFIO_PCI_BAR1_REGION_INDEX:  // BAR0's upper half
    case VFIO_PCI_BAR2_REGION_INDEX:
    case VFIO_PCI_BAR3_REGION_INDEX:
    case VFIO_PCI_BAR4_REGION_INDEX:
    case VFIO_PCI_BAR5_REGION_INDEX:
      info.size = 0;
      return 0;
    case VFIO_PCI_CONFIG_REGION_INDEX:
      info.size = kConfigSize;
      info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
      return 0;
    default:  // no ROM, no VGA, no device-specific regions
      return -EINVAL;
  }
}

int FakeVfioNvme::irq_info(vfio_irq_info& info) const {
  if (info.argsz < sizeof info || info.index >= VFIO_PCI_NUM_IRQS) return -EINVAL;
  info.flags = VFIO_IRQ_INFO_EVENTFD;
  switch (info.index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
      info.count = 1;
      info.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
      break;
    case VFIO_PCI_MSI_IRQ_INDEX:  // no MSI capability: vfio_pci_get_irq_count() says 0
      info.count = 0;
      info.flags |= VFIO_IRQ_INFO_NORESIZE;
      break;
    case VFIO_PCI_MSIX_IRQ_INDEX:
      info.count = kVectors;
      info.flags |= VFIO_IRQ_INFO_NORESIZE;  // before Linux 6.5
      break;
    default:  // ERR and REQ: one each on a PCI Express device
      info.count = 1;
  }
  return 0;
}

// vfio_set_irqs_validate_and_prepare(), then vfio_pci_set_irqs_ioctl() for MSI-X.
int FakeVfioNvme::set_irqs(const vfio_irq_set& set, const uint8_t* data,
                           const std::function<void(int)>& on_trigger) {
  if (set.argsz < sizeof set) return -EINVAL;
  if (set.flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)) return -EINVAL;
  size_t size = 0;
  switch (set.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
    case VFIO_IRQ_SET_DATA_NONE:
      break;
    case VFIO_IRQ_SET_DATA_BOOL:
      size = 1;
      break;
    case VFIO_IRQ_SET_DATA_EVENTFD:
      size = sizeof(int32_t);
      break;
    default:
      return -EINVAL;
  }
  if (std::popcount(set.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) != 1) return -EINVAL;
  if (set.index >= VFIO_PCI_NUM_IRQS) return -EINVAL;
  vfio_irq_info info{.argsz = sizeof info, .flags = 0, .index = set.index, .count = 0};
  (void)irq_info(info);
  if (info.count == 0 || set.start >= info.count || set.start + set.count > info.count) {
    return -EINVAL;
  }
  if (size != 0 && set.argsz - sizeof set < set.count * size) return -EINVAL;
  if (set.index != VFIO_PCI_MSIX_IRQ_INDEX) {
    note_(fmt::format("VFIO_DEVICE_SET_IRQS on index {}: the fake models MSI-X only", set.index));
    return -ENOTTY;
  }
  if (!(set.flags & VFIO_IRQ_SET_ACTION_TRIGGER)) return -ENOTTY;  // no MSI-X mask/unmask
  std::vector<int32_t> fds(set.count);
  if (size == sizeof(int32_t)) std::memcpy(fds.data(), data, set.count * sizeof(int32_t));
  if ((set.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) != VFIO_IRQ_SET_DATA_EVENTFD) {
    if (type_ != Type::kMsix) return -EINVAL;  // nothing to disable or loop back
    if (set.count == 0) {
      disable();
      journal_("VFIO SET_IRQS MSI-X disable");
      return 0;
    }
    for (unsigned i = set.start; i < set.start + set.count && i < vectors_.size(); ++i) {
      const bool fire = size == 0 || data[i - set.start] != 0;
      const uint64_t one = 1;
      if (fire && vectors_[i].fd >= 0) (void)!::write(vectors_[i].fd, &one, sizeof one);
    }
    return 0;
  }
  return set_msix_trigger(set, fds.data(), on_trigger);
}

// vfio_pci_set_msi_trigger(): enabling sizes the index once (start + count vectors); an enabled
// index takes blocks inside that size only.
int FakeVfioNvme::set_msix_trigger(const vfio_irq_set& set, const int32_t* fds,
                                   const std::function<void(int)>& on_trigger) {
  if (type_ != Type::kMsix && type_ != Type::kNone) return -EINVAL;  // INTx or MSI is on
  std::string which;
  for (unsigned i = 0; i < set.count; ++i) {
    if (fds[i] >= 0) which += fmt::format("{}v{}", which.empty() ? "" : ",", set.start + i);
  }
  if (type_ == Type::kMsix) {
    const int r = set_block(set.start, set.count, fds, on_trigger);
    if (r == 0) {
      journal_(fmt::format("VFIO SET_IRQS MSI-X {}..{} trigger [{}]", set.start,
                           set.start + set.count - 1, which));
    }
    return r;
  }
  type_ = Type::kMsix;
  vectors_.assign(set.start + set.count, Trigger{});
  const int r = set_block(set.start, set.count, fds, on_trigger);
  if (r != 0) {
    disable();
    return r;
  }
  journal_(fmt::format("VFIO SET_IRQS MSI-X enable {} trigger [{}]", vectors_.size(), which));
  return 0;
}

int FakeVfioNvme::set_block(unsigned start, unsigned count, const int32_t* fds,
                            const std::function<void(int)>& on_trigger) {
  if (start >= vectors_.size() || start + count > vectors_.size()) return -EINVAL;  // pre-6.5
  for (unsigned j = 0; j < count; ++j) {
    Trigger& t = vectors_[start + j];
    t = Trigger{};
    if (fds[j] < 0) continue;
    const EventFdLookup event = lookup_eventfd(fds[j]);  // eventfd_ctx_fdget()
    if (!event.info) {
      for (unsigned k = 0; k < j; ++k) vectors_[start + k] = Trigger{};
      return event.error;
    }
    t = {fds[j], event.info->id};
    if (on_trigger) on_trigger(fds[j]);
  }
  return 0;
}

void FakeVfioNvme::disable() {
  type_ = Type::kNone;
  vectors_.clear();
}

int FakeVfioNvme::reset() {
  if (type_ != Type::kNone) {
    note_(
        "VFIO_DEVICE_RESET with MSI-X still enabled: the function forgets the vectors VFIO "
        "still holds");
  }
  put(config_, 0x04, 0, 2);  // FLR: decoding and bus mastering off
  journal_("VFIO DEVICE_RESET");
  return 0;
}

void FakeVfioNvme::bus_reset() {
  if (type_ != Type::kNone) {
    note_(
        "VFIO_DEVICE_PCI_HOT_RESET with MSI-X still enabled: the function forgets the vectors "
        "VFIO still holds");
  }
  put(config_, 0x04, 0, 2);  // decoding and bus mastering off
}

bool FakeVfioNvme::bar_access_allowed(uint64_t offset, size_t size, bool write) {
  if (overlaps(offset, size, kTableOffset, kVectors * 16) ||
      overlaps(offset, size, kPbaOffset, (kVectors + 63) / 64 * 8)) {
    note_(fmt::format("a BAR0 {} at {:#x} reached the MSI-X table or PBA, which ferry emulates",
                      write ? "write" : "read", offset));
    return false;
  }
  return true;
}

ssize_t FakeVfioNvme::read(uint64_t offset, void* data, size_t size) const {
  const unsigned index = static_cast<unsigned>(offset >> 40);
  const uint64_t at = offset & kOffsetMask;
  if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
    if (at + size > kConfigSize) return -EINVAL;
    auto* out = static_cast<uint8_t*>(data);
    for (size_t i = 0; i < size; ++i) out[i] = at + i < 256 ? config_[at + i] : 0;
    return static_cast<ssize_t>(size);
  }
  if (index != VFIO_PCI_BAR0_REGION_INDEX || at + size > kBar0Size) return -EINVAL;
  if (!const_cast<FakeVfioNvme*>(this)->bar_access_allowed(at, size, false)) {
    std::memset(data, 0xff, size);
    return static_cast<ssize_t>(size);
  }
  const ssize_t n = ::pread(bar0_.get(), data, size, static_cast<off_t>(at));
  return n < 0 ? -errno : n;
}

ssize_t FakeVfioNvme::write(uint64_t offset, const void* data, size_t size) {
  const unsigned index = static_cast<unsigned>(offset >> 40);
  const uint64_t at = offset & kOffsetMask;
  const auto* in = static_cast<const uint8_t*>(data);
  if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
    if (at + size > kConfigSize) return -EINVAL;
    for (size_t i = 0; i < size && at + i < 256; ++i) {
      const uint64_t byte = at + i;
      if (byte >= 0x10 && byte < 0x28) {
        note_(fmt::format("config write to BAR register byte {:#x} reached the device", byte));
      } else if (byte >= kMsixCap && byte < kMsixCap + 12) {
        note_(fmt::format("config write to MSI-X capability byte {:#x} reached the device", byte));
      } else if (byte == 0x04 || byte == 0x05 || byte >= 0x40) {
        config_[byte] = in[i];  // command; the capabilities' registers
      }
    }
    return static_cast<ssize_t>(size);
  }
  if (index != VFIO_PCI_BAR0_REGION_INDEX || at + size > kBar0Size) return -EINVAL;
  if (!bar_access_allowed(at, size, true)) return static_cast<ssize_t>(size);  // dropped
  const ssize_t n = ::pwrite(bar0_.get(), data, size, static_cast<off_t>(at));
  return n < 0 ? -errno : n;
}

Expected<Mapping> FakeVfioNvme::map(size_t size, uint64_t offset) const {
  const unsigned index = static_cast<unsigned>(offset >> 40);
  const uint64_t at = offset & kOffsetMask;
  if (index != VFIO_PCI_BAR0_REGION_INDEX || at % kPage != 0 || size % kPage != 0 || size == 0 ||
      at + size > kBar0Size) {
    return fail_errno(EINVAL, "mmap of the fake NVMe");
  }
  return Mapping::of_fd(bar0_.get(), size, PROT_READ | PROT_WRITE, static_cast<off_t>(at));
}

int FakeVfioNvme::trigger_of(unsigned vector) const {
  if (type_ != Type::kMsix || vector >= vectors_.size() || vectors_[vector].fd < 0) return -1;
  if (!(command() & kBusMaster)) return -1;  // an MSI is a memory write: no bus master, no MSI
  const Trigger& t = vectors_[vector];
  const EventFdLookup now = lookup_eventfd(t.fd);
  if (!now.info || now.info->id != t.eventfd_id) {
    note_(fmt::format("MSI-X vector {}'s eventfd was closed while still VFIO's trigger", vector));
    return -1;
  }
  return t.fd;
}

std::vector<int> FakeVfioNvme::triggers() const {
  std::vector<int> fds;
  for (const Trigger& t : vectors_) {
    if (t.fd >= 0) fds.push_back(t.fd);
  }
  return fds;
}

}  // namespace ferry::test

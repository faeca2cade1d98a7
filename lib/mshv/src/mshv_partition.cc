#include "mshv_partition.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "ferry/base/checked.h"
#include "ferry/mshv/mshv_abi.h"
#include "ioctl_error.h"

namespace ferry::mshv {

MshvPartition::MshvPartition(MshvDriver& driver, UniqueFd fd)
    : driver_(driver),
      fd_(std::move(fd)),
      table_(sizeof(MshvUserIrqTable) + kMshvMaxGuestIrqs * sizeof(MshvUserIrqEntry)) {}

Expected<std::shared_ptr<MshvPartition>> MshvPartition::create(MshvDriver& driver, UniqueFd fd) {
  return std::shared_ptr<MshvPartition>(new MshvPartition(driver, std::move(fd)));
}

// --- guest memory -------------------------------------------------------------------------------

Expected<void> MshvPartition::map_memory(uint64_t gpa, uint64_t size, void* host, bool writable,
                                         Backing backing) {
  const auto host_address = reinterpret_cast<uint64_t>(host);
  if (size == 0 || !is_aligned(gpa | size | host_address, kHvPageSize)) {
    return fail(Errc::kInvalidArgument,
                "guest memory {:#x}+{:#x} at host {:#x}: MSHV needs a non-empty range with the "
                "address, size and host address all 4 KiB aligned",
                gpa, size, host_address);
  }
  if (!checked_add(gpa, size) || !checked_add(host_address, size)) {
    return fail(Errc::kInvalidArgument, "guest memory {:#x}+{:#x} at host {:#x} wraps", gpa, size,
                host_address);
  }
  std::lock_guard lock(memory_mutex_);
  for (const Region& r : regions_) {
    if (ranges_overlap(gpa, size, r.gpa, r.size)) {
      return fail(Errc::kExists, "guest memory {:#x}+{:#x} overlaps the mapped {:#x}+{:#x}", gpa,
                  size, r.gpa, r.size);
    }
    if (ranges_overlap(host_address, size, r.host, r.size)) {
      return fail(Errc::kExists,
                  "guest memory {:#x}+{:#x}: host memory {:#x}+{:#x} is already guest memory at "
                  "{:#x}; MSHV maps a host range into a partition at most once",
                  gpa, size, host_address, size, r.gpa);
    }
  }
  MshvUserMemRegion region{};
  region.size = size;
  region.guest_pfn = gpa / kHvPageSize;
  region.userspace_addr = host_address;
  region.flags = kMemExecutable | (writable ? kMemWritable : 0);
  int r = driver_.ioctl(fd_.get(), kMshvSetGuestMemory, &region);
  if (r < 0) {
    return fail(ioctl_error(-r, kMshvSetGuestMemory, fmt::format("{:#x}+{:#x}", gpa, size)));
  }
  regions_.push_back({gpa, size, host_address, writable, backing});
  return {};
}

Expected<void> MshvPartition::unmap_memory(uint64_t gpa, uint64_t size) {
  std::lock_guard lock(memory_mutex_);
  auto it = std::find_if(regions_.begin(), regions_.end(),
                         [&](const Region& r) { return r.gpa == gpa && r.size == size; });
  if (it == regions_.end()) {
    return fail(Errc::kNotFound, "no guest memory mapping is exactly {:#x}+{:#x}", gpa, size);
  }
  // The kernel matches the guest page, the size and the host address of the mapping exactly.
  MshvUserMemRegion region{};
  region.size = size;
  region.guest_pfn = gpa / kHvPageSize;
  region.userspace_addr = it->host;
  region.flags = kMemUnmap;
  int r = driver_.ioctl(fd_.get(), kMshvSetGuestMemory, &region);
  if (r < 0) {
    return fail(
        ioctl_error(-r, kMshvSetGuestMemory, fmt::format("unmapping {:#x}+{:#x}", gpa, size)));
  }
  regions_.erase(it);
  return {};
}

bool MshvPartition::copy_guest(uint64_t gpa, uint8_t* buffer, size_t length,
                               bool write) const noexcept {
  if (!checked_add(gpa, length)) return false;
  std::lock_guard lock(memory_mutex_);
  // Check every piece before copying any, so a failure changes nothing.
  for (int pass = 0; pass < 2; ++pass) {
    uint64_t at = gpa;
    size_t done = 0;
    while (done < length) {
      const Region* region = nullptr;
      for (const Region& r : regions_) {
        if (at >= r.gpa && at - r.gpa < r.size) region = &r;
      }
      if (region == nullptr || region->backing == Backing::kDevice ||
          (write && !region->writable)) {
        return false;
      }
      const size_t piece = std::min<uint64_t>(length - done, region->size - (at - region->gpa));
      if (pass == 1) {
        auto* host = reinterpret_cast<uint8_t*>(region->host + (at - region->gpa));
        if (write) {
          std::memcpy(host, buffer + done, piece);
        } else {
          std::memcpy(buffer + done, host, piece);
        }
      }
      at += piece;
      done += piece;
    }
  }
  return true;
}

bool MshvPartition::read_ram(uint64_t gpa, std::span<uint8_t> data) const noexcept {
  return copy_guest(gpa, data.data(), data.size(), false);
}

bool MshvPartition::write_ram(uint64_t gpa, std::span<const uint8_t> data) const noexcept {
  return copy_guest(gpa, const_cast<uint8_t*>(data.data()), data.size(), true);
}

// --- interrupt routing
// ----------------------------------------------------------------------------

Expected<void> MshvPartition::set_msi_routes(std::span<const accel::MsiRoute> routes) {
  std::set<uint32_t> seen;
  for (const accel::MsiRoute& route : routes) {
    if (route.gsi >= kMshvMaxGuestIrqs) {
      return fail(Errc::kNoResources, "MSI route on GSI {}: MSHV allows GSIs below {}", route.gsi,
                  kMshvMaxGuestIrqs);
    }
    if (route.address >> 32 != 0) {
      return fail(Errc::kInvalidArgument,
                  "MSI route on GSI {}: address {:#x} is above 4 GiB; MSHV takes 32-bit MSI "
                  "addresses (no extended destination IDs)",
                  route.gsi, route.address);
    }
    if (!seen.insert(route.gsi).second) {
      return fail(Errc::kInvalidArgument, "two MSI routes for GSI {}", route.gsi);
    }
  }
  std::lock_guard lock(routes_mutex_);
  auto& header = *reinterpret_cast<MshvUserIrqTable*>(table_.data());
  auto* entries = reinterpret_cast<MshvUserIrqEntry*>(table_.data() + sizeof header);
  uint32_t count = 0;
  for (const accel::MsiRoute& route : routes) {
    entries[count++] = {route.gsi, static_cast<uint32_t>(route.address), 0, route.data};
  }
  header = {count, 0};
  int r = driver_.ioctl(fd_.get(), kMshvSetMsiRouting, table_.data());
  if (r < 0) {
    return fail(ioctl_error(-r, kMshvSetMsiRouting, fmt::format("with {} routes", count)));
  }
  return {};
}

Expected<void> MshvPartition::irqfd(int eventfd, uint32_t gsi, std::optional<int> resample_fd,
                                    bool deassign) {
  if (gsi >= kMshvMaxGuestIrqs) {
    return fail(Errc::kInvalidArgument,
                "irqfd on GSI {}: MSHV routes GSIs below {}, so it could never deliver", gsi,
                kMshvMaxGuestIrqs);
  }
  MshvUserIrqfd args{};
  args.fd = eventfd;
  args.gsi = gsi;
  if (deassign) {
    args.flags = kIrqfdDeassign;
  } else if (resample_fd) {
    args.flags = kIrqfdResample;
    args.resamplefd = *resample_fd;
  }
  int r = driver_.ioctl(fd_.get(), kMshvIrqfd, &args);
  if (r >= 0) return {};
  if (r == -EBUSY) {
    return fail(Errc::kBusy,
                "irqfd on GSI {}: eventfd {} is already an irqfd of this partition; MSHV takes an "
                "eventfd on one GSI only (deassign it first)",
                gsi, eventfd);
  }
  if (r == -EINVAL && resample_fd && !deassign) {
    return fail(Errc::kInvalidArgument,
                "resampling irqfd on GSI {}: MSHV needs a committed level-triggered route (MSI "
                "data bit 15) on the GSI when the irqfd is assigned; commit the route first",
                gsi);
  }
  return fail(ioctl_error(-r, kMshvIrqfd,
                          fmt::format("{} eventfd {} on GSI {}",
                                      deassign ? "deassigning" : "assigning", eventfd, gsi)));
}

Expected<void> MshvPartition::ioeventfd(const accel::IoEventFd& event, bool deassign) {
  const bool pio = event.space == accel::IoSpace::kPio;
  const std::string where =
      fmt::format("{} {:#x}/{}", pio ? "port" : "MMIO", event.address, event.length);
  if (event.length != 0 && event.length != 1 && event.length != 2 && event.length != 4 &&
      event.length != 8) {
    return fail(Errc::kInvalidArgument, "ioeventfd {}: the length must be 0 (any), 1, 2, 4 or 8",
                where);
  }
  MshvUserIoeventfd args{};
  args.addr = event.address;
  args.len = event.length;
  args.fd = event.fd;
  if (event.datamatch) {
    args.flags |= kIoeventfdDatamatch;
    args.datamatch = *event.datamatch;
  }
  if (pio) args.flags |= kIoeventfdPio;
  if (deassign) args.flags |= kIoeventfdDeassign;
  int r = driver_.ioctl(fd_.get(), kMshvIoeventfd, &args);
  if (r >= 0) return {};
  switch (-r) {
    case EOPNOTSUPP:
      return fail(Errc::kUnsupported,
                  "ioeventfd {}: MSHV has no port-I/O ioeventfds (the kernel answers "
                  "EOPNOTSUPP); the device must take port writes through the exit path",
                  where);
    case EEXIST:
      return fail(Errc::kExists,
                  "ioeventfd {}: another ioeventfd has the same address and length with a "
                  "wildcard or the same datamatch",
                  where);
    case ENOENT:
      return fail(Errc::kNotFound,
                  "ioeventfd {}: none matches exactly (address, length, datamatch and eventfd)",
                  where);
    default:
      return fail(ioctl_error(-r, kMshvIoeventfd, where));
  }
}

// --- clock
// ----------------------------------------------------------------------------------------

Expected<void> MshvPartition::start_clock() noexcept {
  if (clock_started_.load(std::memory_order_acquire)) return {};
  std::lock_guard lock(clock_mutex_);
  if (clock_started_.load(std::memory_order_relaxed)) return {};
  auto thawed = hvcall().set_partition_property(kHvPropertyTimeFreeze, 0);
  if (!thawed) return fail(thawed.error().context("starting the partition's clock"));
  clock_started_.store(true, std::memory_order_release);
  return {};
}

}  // namespace ferry::mshv

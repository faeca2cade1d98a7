#include "ferry/vfio/assignment.h"

#include <sys/resource.h>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>

#include "ferry/base/units.h"

namespace ferry::vfio {
namespace {

constexpr unsigned kCapIpcLock = 14;

bool has_cap_ipc_lock() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      return (std::stoull(line.substr(7), nullptr, 16) >> kCapIpcLock) & 1;
    }
  }
  return false;
}

}  // namespace

Error memlock_error(uint64_t bytes, uint64_t limit, uint64_t hard_limit) {
  const std::string hard =
      hard_limit == RLIM_INFINITY ? "unlimited" : fmt::format("{} KiB", hard_limit >> 10);
  return Error(
      Errc::kPermission,
      fmt::format("an assigned device needs all {} KiB of guest RAM pinned for DMA, but "
                  "this process may lock only {} KiB (RLIMIT_MEMLOCK; hard limit {}), "
                  "{} KiB short; run ferry as root, or raise the limit first (ulimit -l "
                  "{} or unlimited, or LimitMEMLOCK=infinity in a systemd unit)",
                  bytes >> 10, limit >> 10, hard, (bytes - limit) >> 10, (bytes + 1023) >> 10));
}

Expected<void> check_memlock(uint64_t bytes) {
  if (has_cap_ipc_lock()) return {};
  rlimit limit{};
  if (::getrlimit(RLIMIT_MEMLOCK, &limit) != 0) return fail_errno(errno, "getrlimit(MEMLOCK)");
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < bytes &&
      (limit.rlim_max == RLIM_INFINITY || limit.rlim_max >= bytes)) {
    limit.rlim_cur = limit.rlim_max;  // as far as this process may raise it itself
    (void)::setrlimit(RLIMIT_MEMLOCK, &limit);
  }
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= bytes) return {};
  return fail(memlock_error(bytes, limit.rlim_cur, limit.rlim_max));
}

Expected<std::unique_ptr<Assignment>> Assignment::create(accel::Vm& vm, std::vector<GuestRam> ram,
                                                         VfioSys& sys, DmaMapObserver observer) {
  uint64_t total = 0;
  for (const GuestRam& r : ram) total += r.size;
  FERRY_TRY(check_memlock(total));
  FERRY_ASSIGN(Container container, Container::open(sys));
  return std::unique_ptr<Assignment>(
      new Assignment(vm, std::move(ram), sys, std::move(container), std::move(observer)));
}

Assignment::~Assignment() {
  for (auto& device : devices_) device->release();
  devices_.clear();
  for (unsigned number : bridged_) {
    if (auto removed = bridge_->remove_group(groups_.at(number).fd()); !removed) {
      spdlog::warn("IOMMU group {}: {}", number, removed.error().message());
    }
  }
  bridge_.reset();
  container_.unmap_all();
  groups_.clear();
  // The container closes last (a member).
}

Expected<Group*> Assignment::take_group(unsigned number) {
  if (auto found = groups_.find(number); found != groups_.end()) return &found->second;
  FERRY_ASSIGN(Group group, Group::open(sys_, number));
  if (auto added = container_.add_group(group.fd()); !added) {
    return fail(std::move(added).error().context(fmt::format("IOMMU group {}", number)));
  }
  Group& held = groups_.emplace(number, std::move(group)).first->second;
  if (auto joined = join(number, held); !joined) {
    drop_group(number);
    return fail(std::move(joined).error().context(fmt::format("IOMMU group {}", number)));
  }
  return &held;
}

Expected<void> Assignment::join(unsigned number, const Group& group) {
  if (container_.mapped_bytes() == 0) {
    // With the IOMMU type set by the first group: IOVA = guest physical address, before any
    // device can be told to DMA.
    const auto start = std::chrono::steady_clock::now();
    FERRY_TRY(map_guest_ram());
    spdlog::info(
        "VFIO: guest RAM ({} in {} range{}) mapped for DMA in {:.1f} ms (IOMMU group {})",
        format_size(container_.mapped_bytes()), ram_.size(), ram_.size() == 1 ? "" : "s",
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count(),
        number);
  } else {
    spdlog::info("VFIO: IOMMU group {} joins the container; guest RAM stays mapped once", number);
  }
  if (!bridge_) {
    FERRY_ASSIGN(bridge_, vm_.create_vfio_bridge());
  }
  FERRY_TRY(bridge_->add_group(group.fd()));
  bridged_.push_back(number);
  return {};
}

Expected<void> Assignment::map_guest_ram() {
  uint64_t total = 0, done = 0;
  for (const GuestRam& r : ram_) total += r.size;
  if (observer_) observer_(0, total);
  for (const GuestRam& r : ram_) {
    for (uint64_t offset = 0; offset < r.size; offset += kDmaMapChunk) {
      const uint64_t size = std::min(kDmaMapChunk, r.size - offset);
      FERRY_TRY(container_.map_dma(r.gpa + offset, size, static_cast<uint8_t*>(r.host) + offset));
      done += size;
      if (observer_) observer_(done, total);
    }
  }
  return {};
}

void Assignment::drop_group(unsigned number) {
  const Group& group = groups_.at(number);
  if (auto bridged = std::find(bridged_.begin(), bridged_.end(), number);
      bridged != bridged_.end()) {
    if (auto removed = bridge_->remove_group(group.fd()); !removed) {
      spdlog::warn("IOMMU group {}: {}", number, removed.error().message());
    }
    bridged_.erase(bridged);
  }
  if (groups_.size() == 1) container_.unmap_all();  // the mappings were this group's alone
  if (auto removed = container_.remove_group(group.fd()); !removed) {
    spdlog::warn("IOMMU group {}: {}", number, removed.error().message());
  }
  groups_.erase(number);
}

Expected<std::shared_ptr<AssignedDevice>> Assignment::take_device(const Group& group,
                                                                  const std::string& bdf,
                                                                  irq::MsiRouteTable& routes,
                                                                  pci::BarSpaces spaces,
                                                                  std::optional<IntxWiring> intx) {
  FERRY_ASSIGN(UniqueFd fd, group.device_fd(bdf));
  FERRY_ASSIGN(Device device, Device::open(sys_, bdf, std::move(fd)));
  return AssignedDevice::create(std::move(device), vm_, routes, std::move(spaces), *this, intx);
}

Expected<void> Assignment::reset(Device& device) {
  if (device.can_reset()) return device.reset();
  auto groups = device.hot_reset_groups();
  if (!groups) {
    if (groups.error().code() != Errc::kUnsupported) return fail(std::move(groups).error());
    return fail(Errc::kUnsupported,
                "it has no function-level reset and the kernel offers no bus reset for it: it "
                "is not reset at start or exit");
  }
  std::vector<int32_t> fds;
  std::vector<unsigned> missing;
  for (unsigned number : *groups) {
    if (auto held = groups_.find(number); held != groups_.end()) {
      fds.push_back(held->second.fd());
    } else {
      missing.push_back(number);
    }
  }
  if (!missing.empty()) {
    return fail(Errc::kUnsupported,
                "it has no function-level reset and a bus reset would also hit IOMMU group{} {} "
                "(not assigned to this VM): it is not reset at start or exit",
                missing.size() == 1 ? "" : "s", fmt::join(missing, ", "));
  }
  return device.hot_reset(fds);
}

Expected<std::shared_ptr<AssignedDevice>> Assignment::assign(const std::string& bdf, unsigned group,
                                                             irq::MsiRouteTable& routes,
                                                             pci::BarSpaces spaces,
                                                             std::optional<IntxWiring> intx) {
  const bool taken_here = !groups_.contains(group);
  FERRY_ASSIGN(Group * held, take_group(group));
  auto assigned = take_device(*held, bdf, routes, std::move(spaces), intx);
  if (!assigned) {
    // The device is closed by now (take_device's locals); its group goes if this call took it.
    if (taken_here) drop_group(group);
    return fail(std::move(assigned).error());
  }
  devices_.push_back(*assigned);
  return assigned;
}

}  // namespace ferry::vfio

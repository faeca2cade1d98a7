#include "ferry/vfio/assignment.h"

#include <fcntl.h>
#include <sys/resource.h>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>

#include "ferry/base/units.h"
#include "ferry/vfio/iommufd_abi.h"

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
                                                         VfioSys& sys, Backend backend,
                                                         DmaMapObserver observer, bool p2p) {
  uint64_t total = 0;
  for (const GuestRam& r : ram) total += r.size;
  FERRY_TRY(check_memlock(total));
  if (backend == Backend::kIommufd) {
    FERRY_ASSIGN(Ioas ioas, Ioas::open(sys));
    return std::unique_ptr<Assignment>(new Assignment(vm, std::move(ram), sys, std::nullopt,
                                                      std::move(ioas), std::move(observer), p2p));
  }
  FERRY_ASSIGN(Container container, Container::open(sys));
  return std::unique_ptr<Assignment>(new Assignment(vm, std::move(ram), sys, std::move(container),
                                                    std::nullopt, std::move(observer), p2p));
}

Assignment::~Assignment() {
  for (auto& device : devices_) device->release();
  devices_.clear();
  for (unsigned number : bridged_) {
    if (auto removed = bridge_->remove_group(groups_.at(number).fd()); !removed) {
      spdlog::warn("IOMMU group {}: {}", number, removed.error().message());
    }
  }
  for (UniqueFd& cdev : bridged_cdevs_) {
    if (auto removed = bridge_->remove_group(cdev.get()); !removed) {
      spdlog::warn("VFIO cdev: {}", removed.error().message());
    }
  }
  bridged_cdevs_.clear();  // the devices' last references: the kernel unbinds them now
  bridge_.reset();
  dma().unmap_all();
  groups_.clear();
  // The container (or the IOAS) closes last (a member).
}

Expected<void> Assignment::map_bar(uint64_t iova, uint64_t size, void* host) {
  std::lock_guard lock(bar_dma_mutex_);
  return dma().map_dma(iova, size, host);
}

Expected<void> Assignment::unmap_bar(uint64_t iova, uint64_t size) {
  std::lock_guard lock(bar_dma_mutex_);
  return dma().unmap_dma(iova, size);
}

Expected<void> Assignment::probe_p2p() {
  if (!p2p_) return {};
  const auto start = std::chrono::steady_clock::now();
  for (const auto& device : devices_) {
    auto probed = device->probe_p2p();
    if (probed) continue;
    // iommufd pins the pages behind an address (pin_user_pages), and a BAR's mmap has none.
    const std::string fix =
        ioas_ ? "iommufd cannot map an assigned device's BAR for DMA (it pins the pages behind "
                "an address, and a BAR's mmap has none); use the legacy VFIO container "
                "(vfio.backend: legacy, or --set vfio.backend=legacy), or drop peer-to-peer DMA "
                "(vfio.p2p: false)"
              : "drop peer-to-peer DMA (vfio.p2p: false) to run without it";
    const Error& error = probed.error();
    return fail(
        Error(error.code(), fmt::format("{}; {}", error.message(), fix), error.sys_errno()));
  }
  spdlog::info(
      "VFIO: peer-to-peer DMA (vfio.p2p): each mapped BAR probed (mapped and unmapped) at its "
      "placed address in {:.1f} ms; each is mapped while the guest decodes it",
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  return {};
}

Expected<void> Assignment::map_ram_once(const std::string& first) {
  if (dma().mapped_bytes() != 0) {
    spdlog::info("VFIO: {} joins the {}; guest RAM stays mapped once", first,
                 ioas_ ? "IOAS" : "container");
    return {};
  }
  // IOVA = guest physical address, before any device can be told to DMA.
  const auto start = std::chrono::steady_clock::now();
  FERRY_TRY(map_guest_ram());
  spdlog::info(
      "VFIO: guest RAM ({} in {} range{}) mapped for DMA in {:.1f} ms ({})",
      format_size(dma().mapped_bytes()), ram_.size(), ram_.size() == 1 ? "" : "s",
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count(),
      first);
  return {};
}

Expected<Group*> Assignment::take_group(unsigned number) {
  if (auto found = groups_.find(number); found != groups_.end()) return &found->second;
  FERRY_ASSIGN(Group group, Group::open(sys_, number));
  if (auto added = container_->add_group(group.fd()); !added) {
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
  FERRY_TRY(map_ram_once(
      fmt::format("IOMMU group {}", number)));  // with the IOMMU type the first group set
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
      if (auto mapped = dma().map_dma(r.gpa + offset, size, static_cast<uint8_t*>(r.host) + offset);
          !mapped) {
        return fail(std::move(mapped).error().context("mapping guest RAM for DMA"));
      }
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
  if (groups_.size() == 1) container_->unmap_all();  // the mappings were this group's alone
  if (auto removed = container_->remove_group(group.fd()); !removed) {
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
  return AssignedDevice::create(std::move(device), vm_, routes, std::move(spaces), *this, intx,
                                bar_dma());
}

Expected<void> Assignment::reset(Device& device) {
  if (device.can_reset()) return device.reset();
  auto info = device.hot_reset_info();
  if (!info) {
    if (info.error().code() != Errc::kUnsupported) return fail(std::move(info).error());
    return fail(Errc::kUnsupported,
                "it has no function-level reset and the kernel offers no bus reset for it: it "
                "is not reset at start or exit");
  }
  if (info->by_device_id) return hot_reset_by_device_id(device, *info);
  std::vector<unsigned> groups;
  for (const HotResetInfo::Affected& affected : info->devices) {
    if (std::find(groups.begin(), groups.end(), affected.id) == groups.end()) {
      groups.push_back(affected.id);
    }
  }
  std::vector<int32_t> fds;
  std::vector<unsigned> missing;
  for (unsigned number : groups) {
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

// The cdev path's bus reset: no group fds; the kernel checks that this iommufd owns every device
// the reset hits (vfio.h, VFIO_DEVICE_PCI_HOT_RESET).
Expected<void> Assignment::hot_reset_by_device_id(Device& device, const HotResetInfo& info) {
  if (info.all_owned) return device.hot_reset({});
  std::vector<std::string> others;
  for (const HotResetInfo::Affected& affected : info.devices) {
    if (affected.id != abi::kDevIdNotOwned) continue;
    others.push_back(fmt::format("{:04x}:{:02x}:{:02x}.{}", affected.segment, affected.bus,
                                 affected.devfn >> 3, affected.devfn & 7));
  }
  return fail(Errc::kUnsupported,
              "it has no function-level reset and a bus reset would also hit {} (not assigned "
              "to this VM): it is not reset at start or exit",
              others.empty() ? std::string("a device this VM does not hold")
                             : fmt::format("{}", fmt::join(others, ", ")));
}

Expected<std::shared_ptr<AssignedDevice>> Assignment::assign(const HostDeviceRef& device,
                                                             irq::MsiRouteTable& routes,
                                                             pci::BarSpaces spaces,
                                                             std::optional<IntxWiring> intx) {
  if (ioas_) return assign_cdev(device, routes, std::move(spaces), intx);
  return assign(device.bdf, device.group, routes, std::move(spaces), intx);
}

Expected<std::shared_ptr<AssignedDevice>> Assignment::assign_cdev(const HostDeviceRef& ref,
                                                                  irq::MsiRouteTable& routes,
                                                                  pci::BarSpaces spaces,
                                                                  std::optional<IntxWiring> intx) {
  if (ref.cdev.empty()) {
    return fail(Errc::kUnsupported,
                "{}: has no VFIO cdev (/sys/bus/pci/devices/{}/vfio-dev is empty: it needs "
                "Linux 6.6+ with CONFIG_VFIO_DEVICE_CDEV and the device on vfio-pci); use "
                "vfio.backend: legacy or auto",
                ref.bdf, ref.bdf);
  }
  FERRY_ASSIGN(UniqueFd fd, open_device_cdev(sys_, ref.bdf, ref.cdev));
  // KVM is told of the device before the bind (the kernel's vfio.rst asks for that order).
  if (!bridge_) {
    FERRY_ASSIGN(bridge_, vm_.create_vfio_bridge());
  }
  UniqueFd bridged(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
  if (!bridged) return fail_errno(errno, ref.bdf + ": dup of its VFIO cdev fd");
  FERRY_TRY(bridge_->add_group(bridged.get()));
  const bool first = devices_.empty();  // no device held yet: the DMA mappings are this call's
  auto undo = [&] {
    if (auto removed = bridge_->remove_group(bridged.get()); !removed) {
      spdlog::warn("{}: {}", ref.bdf, removed.error().message());
    }
    if (first) dma().unmap_all();
  };
  auto assigned = [&]() -> Expected<std::shared_ptr<AssignedDevice>> {
    FERRY_TRY(ioas_->bind_and_attach(fd.get(), ref.bdf, ref.cdev));
    FERRY_TRY(map_ram_once(ref.bdf));
    FERRY_ASSIGN(Device device, Device::open(sys_, ref.bdf, std::move(fd)));
    return AssignedDevice::create(std::move(device), vm_, routes, std::move(spaces), *this, intx,
                                  bar_dma());
  }();
  if (!assigned) {
    fd.reset();  // closed before it leaves the bridge, as at release
    undo();
    return fail(std::move(assigned).error());
  }
  bridged_cdevs_.push_back(std::move(bridged));
  devices_.push_back(*assigned);
  return assigned;
}

Expected<std::shared_ptr<AssignedDevice>> Assignment::assign(const std::string& bdf, unsigned group,
                                                             irq::MsiRouteTable& routes,
                                                             pci::BarSpaces spaces,
                                                             std::optional<IntxWiring> intx) {
  if (ioas_)
    return assign_cdev({.bdf = bdf, .group = group, .cdev = {}}, routes, std::move(spaces), intx);
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

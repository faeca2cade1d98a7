#include "fake_mshv_driver.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "fake_eventfd.h"
#include "fake_guest_cpu.h"

namespace ferry::test {

using namespace mshv;

namespace {

// The request numbers of the ABI table in mshv-abi.md, written out here rather than taken from
// ferry's own header, so a wrong number in the header is caught.
constexpr unsigned long kCreatePartition = 0x4010B800;
constexpr unsigned long kInitializePartition = 0x0000B800;
constexpr unsigned long kCreateVp = 0x4004B801;
constexpr unsigned long kSetGuestMemory = 0x4020B802;
constexpr unsigned long kIrqfd = 0x4010B803;
constexpr unsigned long kIoeventfd = 0x4020B804;
constexpr unsigned long kSetMsiRouting = 0x4008B805;
constexpr unsigned long kRootHvcall = 0xC020B807;
constexpr unsigned long kRunVp = 0x8100B800;
constexpr unsigned long kGetVpState = 0xC010B801;
constexpr unsigned long kSetVpState = 0xC010B802;
constexpr unsigned long kCreateDevice = 0xC00CB808;
constexpr unsigned long kSetDeviceAttr = 0x4018B800;  // on the MSHV_CREATE_DEVICE fd

constexpr size_t kVpPages = 3;  // registers, intercept message, GHCB

uint64_t inode_of(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

bool user_memory(uint64_t address, size_t length) {
  const uint64_t page = address & ~(kHvPageSize - 1);
  return ::msync(reinterpret_cast<void*>(page), length + (address - page), MS_ASYNC) == 0;
}

}  // namespace

FakeMshvDriver::FakeMshvDriver(FakeMshvOptions options) : options_(std::move(options)) {
  close_watch_ = watch_closes([this](int fd) { closing(fd); });
}

FakeMshvDriver::~FakeMshvDriver() { unwatch_closes(close_watch_); }

int FakeMshvDriver::new_fd(const char* name, Kind kind, FakePartition* partition, FakeVp* vp,
                           size_t size) {
  int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return -errno;
  if (size != 0 && ::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    int err = errno;
    ::close(fd);
    return -err;
  }
  objects_[fd] = {kind, inode_of(fd), partition, vp};
  return fd;
}

FakeMshvDriver::Object* FakeMshvDriver::lookup(int fd, int& error) {
  auto it = objects_.find(fd);
  const bool open = fd >= 0 && ::fcntl(fd, F_GETFD) >= 0;
  if (!open) {
    error = -EBADF;
    return nullptr;
  }
  if (it == objects_.end() || it->second.inode != inode_of(fd)) {
    error = -ENOTTY;  // some other file: it knows no MSHV ioctl
    return nullptr;
  }
  return &it->second;
}

int FakeMshvDriver::open_device(const char* path) {
  std::lock_guard lock(mutex_);
  if (!options_.device_present || std::strcmp(path, kMshvDevicePath) != 0) return -ENOENT;
  return new_fd("mshv", Kind::kDevice, nullptr, nullptr);
}

int FakeMshvDriver::ioctl(int fd, unsigned long request, void* arg) {
  std::unique_lock lock(mutex_);
  std::string detail;
  int error = 0;
  Object* object = lookup(fd, error);
  int result = error;
  if (object != nullptr) {
    look();
    result = options_.unknown_requests.count(request)
                 ? -ENOTTY
                 : dispatch(fd, *object, request, arg, detail, lock);
  }
  std::string name = request == kRootHvcall && arg != nullptr
                         ? hvcall_name(static_cast<MshvRootHvcall*>(arg)->code)
                         : mshv_ioctl_name(request);
  calls_.push_back({name + detail, result});
  return result;
}

int FakeMshvDriver::dispatch(int fd, Object& object, unsigned long request, void* arg,
                             std::string& detail, std::unique_lock<std::mutex>& lock) {
  switch (object.kind) {
    case Kind::kDevice:
      return request == kCreatePartition ? create_partition(arg) : -ENOTTY;
    case Kind::kPartition:
      return partition_ioctl(*object.partition, request, arg, detail);
    case Kind::kVp:
      switch (request) {
        case kRunVp:
          return run_vp(*object.partition, *object.vp, arg, lock);
        case kGetVpState:
        case kSetVpState:
          return vp_state(*object.vp, request, arg);
        case kRootHvcall:
          return object.partition->hypercall(*static_cast<MshvRootHvcall*>(arg), object.vp,
                                             options_.insufficient_memory_hypercalls, detail);
        default:
          return -ENOTTY;
      }
    case Kind::kVfioDevice:
      return request == kSetDeviceAttr ? set_device_attr(fd, arg) : -ENOTTY;
  }
  return -ENOTTY;
}

int FakeMshvDriver::create_partition(void* arg) {
  MshvCreatePartitionV2 creation{};
  std::memcpy(&creation, arg, sizeof(MshvCreatePartition));
  const uint64_t known = kPtLapic | kPtX2apic | kPtGpaSuperPages |
                         (options_.cpu_feature_banks ? kPtCpuAndXsaveFeatures : 0);
  if ((creation.pt_flags & ~known) != 0 || creation.pt_isolation != kPtIsolationNone) {
    return -EINVAL;
  }
  if (creation.pt_flags & kPtCpuAndXsaveFeatures) {
    // The v2 argument: 64 bytes, though the request number encodes 16.
    std::memcpy(&creation, arg, sizeof creation);
    bool rsvd = creation.pt_rsvd1[0] != 0 || creation.pt_rsvd1[1] != 0;
    for (uint8_t b : creation.pt_rsvd) rsvd |= b != 0;
    if (creation.pt_num_cpu_fbanks != kCpuFeatureBanks || rsvd) return -EINVAL;
  }
  partitions_.push_back(std::make_unique<FakePartition>(partitions_.size() + 1, creation));
  FakePartition* partition = partitions_.back().get();
  if (options_.passthrough) partition->interrupts().model_passthrough();
  // The fast path needs the VP's register page, which an isolated partition has not.
  if (options_.root_scheduler && options_.register_page) {
    partition->interrupts().use_fast_path(
        [partition](uint32_t vp) { return partition->vp(vp) != nullptr; });
  }
  return new_fd("mshv_partition", Kind::kPartition, partition, nullptr);
}

int FakeMshvDriver::partition_ioctl(FakePartition& p, unsigned long request, void* arg,
                                    std::string& detail) {
  switch (request) {
    case kInitializePartition:
      p.initialize();  // idempotent
      return 0;
    case kCreateVp:
      return create_vp(p, arg);
    case kSetGuestMemory: {
      MshvUserMemRegion region;
      std::memcpy(&region, arg, sizeof region);
      return p.memory().set(region);
    }
    case kIrqfd: {
      MshvUserIrqfd args;
      std::memcpy(&args, arg, sizeof args);
      return p.interrupts().irqfd(args);
    }
    case kIoeventfd: {
      MshvUserIoeventfd args;
      std::memcpy(&args, arg, sizeof args);
      return p.interrupts().ioeventfd(args);
    }
    case kSetMsiRouting:
      return p.interrupts().set_msi_routing(arg);
    case kRootHvcall:
      return p.hypercall(*static_cast<MshvRootHvcall*>(arg), nullptr,
                         options_.insufficient_memory_hypercalls, detail);
    case kCreateDevice: {
      if (!options_.vfio_device) return -ENOTTY;
      auto* args = static_cast<MshvCreateDevice*>(arg);
      if (args->type != kMshvDevTypeVfio || args->flags != 0) return -ENODEV;
      int fd = new_fd("mshv_vfio", Kind::kVfioDevice, &p, nullptr);
      if (fd < 0) return fd;
      args->fd = static_cast<uint32_t>(fd);
      for (const auto& [partition_fd, o] : objects_) {
        if (o.kind != Kind::kPartition || o.partition != &p) continue;
        std::lock_guard bridges(bridge_mutex_);
        bridges_.push_back({fd, inode_of(fd), partition_fd, o.inode, {}});
      }
      return 0;
    }
    default:
      return -ENOTTY;
  }
}

int FakeMshvDriver::create_vp(FakePartition& p, void* arg) {
  MshvCreateVp args;
  std::memcpy(&args, arg, sizeof args);
  if (int error = p.check_new_vp(args.vp_index); error != 0) return error;
  int fd = new_fd("mshv_vp", Kind::kVp, &p, nullptr, kVpPages * kHvPageSize);
  if (fd < 0) return fd;
  auto page = Mapping::of_fd(fd, kHvPageSize, PROT_READ | PROT_WRITE, 0);
  auto wake = EventFd::create();
  if (!page || !wake) {
    ADD_FAILURE() << "fake mshv: cannot set up VP " << args.vp_index;
    ::close(fd);
    return -ENOMEM;
  }
  auto vp = std::make_unique<FakeVp>(args.vp_index, std::move(*page), std::move(*wake));
  objects_[fd].vp = vp.get();
  p.add_vp(std::move(vp));
  return fd;
}

int FakeMshvDriver::vp_state(FakeVp& vp, unsigned long request, void* arg) {
  auto* args = static_cast<MshvGetSetVpState*>(arg);
  if (args->type >= kVpStateCount || args->rsvd[0] || args->rsvd[1] || args->rsvd[2] ||
      args->buf_sz == 0 || args->buf_sz % kHvPageSize != 0 || args->buf_ptr % kHvPageSize != 0) {
    return -EINVAL;
  }
  if (!user_memory(args->buf_ptr, args->buf_sz)) return -EFAULT;
  if (args->type != kVpStateLapic) {
    ADD_FAILURE() << "fake mshv: VP state type " << int{args->type} << " is not modeled";
    return -EINVAL;
  }
  const uint32_t given = args->buf_sz;
  args->buf_sz = kHvPageSize;  // the kernel writes the size it needs back first
  if (given < kHvPageSize) return -EINVAL;
  auto* buffer = reinterpret_cast<uint8_t*>(args->buf_ptr);
  if (request == kGetVpState) {
    std::memcpy(buffer, vp.lapic_page(), kHvPageSize);
  } else {
    std::memcpy(vp.lapic_page(), buffer, kHvPageSize);
  }
  return 0;
}

int FakeMshvDriver::run_vp(FakePartition& p, FakeVp& vp, void* arg,
                           std::unique_lock<std::mutex>& lock) {
  ++runs_[vp.index()];
  vp.take_register_page();
  for (;;) {
    FakeGuestCpu cpu(vp, p.memory(), p.interrupts(), mmio_);
    std::string why;
    switch (cpu.step(*static_cast<MshvRunVp*>(arg), why)) {
      case FakeGuestCpu::Result::kMessage:
        return 0;
      case FakeGuestCpu::Result::kBeyondModel:
        beyond_model_ = why;
        ADD_FAILURE() << "fake mshv: " << why;
        return -EFAULT;
      case FakeGuestCpu::Result::kIdle:
        break;
    }
    // Nothing to report: the VP waits in the hypervisor until a test plays an event, or a signal
    // interrupts the wait (a kick).
    lock.unlock();
    pollfd wait{vp.wake().fd(), POLLIN, 0};
    int ready = ::poll(&wait, 1, -1);
    int err = errno;
    lock.lock();
    if (ready < 0 && err == EINTR) return -EINTR;
    (void)vp.wake().drain();
    look();
  }
}

// MSHV_SET_DEVICE_ATTR on the VFIO bridge, as kvm_vfio_set_file() answers (the proposed mshv_vfio
// follows it): the attribute must be VFIO_FILE add or del, the fd an open file; adding a group
// twice is EEXIST, deleting one never added ENOENT.
int FakeMshvDriver::set_device_attr(int device_fd, void* arg) {
  MshvDeviceAttr args;
  std::memcpy(&args, arg, sizeof args);
  if (args.flags != 0 || args.group != kMshvDevVfioFile) return -ENXIO;
  if (args.attr != kMshvDevVfioFileAdd && args.attr != kMshvDevVfioFileDel) return -ENXIO;
  if (!user_memory(args.addr, sizeof(int32_t))) return -EFAULT;
  int32_t group_fd = -1;
  std::memcpy(&group_fd, reinterpret_cast<const void*>(args.addr), sizeof group_fd);
  if (group_fd < 0 || ::fcntl(group_fd, F_GETFD) < 0) return -EBADF;
  const uint64_t inode = inode_of(group_fd);
  std::lock_guard lock(bridge_mutex_);
  const uint64_t device_inode = inode_of(device_fd);
  auto of_device = [&](const Bridge& b) {
    return b.device_fd == device_fd && b.device_inode == device_inode;
  };
  auto at = std::find_if(bridges_.begin(), bridges_.end(), of_device);
  if (at == bridges_.end()) return -ENOTTY;
  Bridge& bridge = *at;
  auto same = [&](const BridgedGroup& g) { return g.inode == inode; };
  auto found = std::find_if(bridge.groups.begin(), bridge.groups.end(), same);
  if (args.attr == kMshvDevVfioFileAdd) {
    if (found != bridge.groups.end()) return -EEXIST;
    bridge.groups.push_back({group_fd, inode});
    return 0;
  }
  if (found == bridge.groups.end()) return -ENOENT;
  bridge.groups.erase(found);
  return 0;
}

void FakeMshvDriver::closing(int fd) {
  std::lock_guard lock(bridge_mutex_);
  for (auto it = bridges_.begin(); it != bridges_.end();) {
    Bridge& bridge = *it;
    const bool partition_closes =
        bridge.partition_fd == fd && inode_of(fd) == bridge.partition_inode;
    if (partition_closes && !bridge.groups.empty()) {
      violations_.push_back("the partition fd closed with " + std::to_string(bridge.groups.size()) +
                            " VFIO group(s) still added to its bridge (MSHV_DEV_VFIO_FILE_DEL "
                            "them first)");
    }
    it = partition_closes ? bridges_.erase(it) : std::next(it);
  }
}

std::vector<int> FakeMshvDriver::bridged_groups() const {
  std::lock_guard lock(bridge_mutex_);
  std::vector<int> fds;
  for (const Bridge& bridge : bridges_) {
    for (const BridgedGroup& g : bridge.groups) fds.push_back(g.fd);
  }
  return fds;
}

std::vector<std::string> FakeMshvDriver::rule_violations() const {
  std::lock_guard lock(bridge_mutex_);
  return violations_;
}

// What the kernel did since the last look: the writes to irqfds' eventfds (their injections),
// then the closes of eventfds' last fds (EPOLLHUP).
void FakeMshvDriver::look() {
  for (auto& partition : partitions_) partition->interrupts().deliver_signals();
  const uint64_t closes = fd_closes();
  if (closes == closes_seen_) return;
  closes_seen_ = closes;
  std::set<int> held;
  for (auto& partition : partitions_) partition->interrupts().held_fds(held);
  if (held.empty()) return;
  const std::set<uint64_t> open = open_eventfd_ids(held);
  for (auto& partition : partitions_) partition->interrupts().hang_up(open);
}

Expected<Mapping> FakeMshvDriver::map_vp_page(int vp_fd, size_t size, unsigned page) {
  std::lock_guard lock(mutex_);
  int error = 0;
  Object* object = lookup(vp_fd, error);
  if (object == nullptr) return fail_errno(error == -EBADF ? EBADF : ENODEV, "mmap");
  if (object->kind != Kind::kVp) return fail_errno(ENODEV, "mmap");
  if (page == kVpMmapGhcb) return fail_errno(ENODEV, "mmap");  // only for SNP partitions
  if (page == kVpMmapRegisters && !options_.register_page) return fail_errno(ENODEV, "mmap");
  if (page != kVpMmapRegisters && page != kVpMmapInterceptMessage)
    return fail_errno(EINVAL, "mmap");
  if (size == 0 || size > kHvPageSize) return fail_errno(EINVAL, "mmap");
  return Mapping::of_fd(vp_fd, size, PROT_READ | PROT_WRITE,
                        static_cast<off_t>(page * kHvPageSize));
}

CpuidRegs FakeMshvDriver::host_cpuid(uint32_t leaf, uint32_t subleaf) {
  std::lock_guard lock(mutex_);
  auto it = options_.host_cpuid.find({leaf, subleaf});
  return it == options_.host_cpuid.end() ? CpuidRegs{} : it->second;
}

// --- observation --------------------------------------------------------------------------------

std::vector<FakeCall> FakeMshvDriver::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

std::vector<std::string> FakeMshvDriver::call_names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const FakeCall& c : calls_) {
    if (c.name != "MSHV_RUN_VP") names.push_back(c.name);
  }
  return names;
}

void FakeMshvDriver::clear_calls() {
  std::lock_guard lock(mutex_);
  calls_.clear();
}

size_t FakeMshvDriver::partition_count() const {
  std::lock_guard lock(mutex_);
  return partitions_.size();
}

FakePartition& FakeMshvDriver::newest() const {
  if (partitions_.empty()) throw std::logic_error("fake mshv: no partition was created");
  return *partitions_.back();
}

FakeVp& FakeMshvDriver::vp_of_newest(unsigned vp) const {
  FakeVp* found = newest().vp(vp);
  if (found == nullptr) throw std::logic_error("fake mshv: no such VP");
  return *found;
}

uint64_t FakeMshvDriver::partition_flags() const {
  std::lock_guard lock(mutex_);
  return newest().creation().pt_flags;
}

std::optional<MshvCreatePartitionV2> FakeMshvDriver::partition_creation() const {
  std::lock_guard lock(mutex_);
  if (partitions_.empty()) return std::nullopt;
  return newest().creation();
}

bool FakeMshvDriver::initialized() const {
  std::lock_guard lock(mutex_);
  return newest().initialized();
}

std::optional<uint64_t> FakeMshvDriver::property(uint32_t code) const {
  std::lock_guard lock(mutex_);
  return newest().property(code);
}

std::vector<std::pair<uint32_t, uint64_t>> FakeMshvDriver::property_writes() const {
  std::lock_guard lock(mutex_);
  return newest().property_writes();
}

std::vector<FakeRegion> FakeMshvDriver::regions() const {
  std::lock_guard lock(mutex_);
  return newest().memory().regions();
}

std::map<uint32_t, MshvUserIrqEntry> FakeMshvDriver::routes() const {
  std::lock_guard lock(mutex_);
  return newest().interrupts().routes();
}

size_t FakeMshvDriver::irqfd_count() {
  std::lock_guard lock(mutex_);
  look();
  return newest().interrupts().irqfd_count();
}

std::vector<FakeIrqfd> FakeMshvDriver::irqfds() {
  std::lock_guard lock(mutex_);
  look();
  return newest().interrupts().irqfds();
}

size_t FakeMshvDriver::ioeventfd_count() const {
  std::lock_guard lock(mutex_);
  return newest().interrupts().ioeventfd_count();
}

std::vector<FakeInjection> FakeMshvDriver::injections() {
  std::lock_guard lock(mutex_);
  look();
  return newest().interrupts().injections();
}

void FakeMshvDriver::clear_injections() {
  std::lock_guard lock(mutex_);
  look();
  newest().interrupts().clear_injections();
}

uint64_t FakeMshvDriver::dropped(uint32_t gsi) {
  std::lock_guard lock(mutex_);
  look();
  auto& dropped = newest().interrupts().dropped();
  auto it = dropped.find(gsi);
  return it == dropped.end() ? 0 : it->second;
}

uint64_t FakeMshvDriver::hole_signals() {
  std::lock_guard lock(mutex_);
  look();
  return newest().interrupts().hole_signals();
}

void FakeMshvDriver::vfio_set_trigger(int eventfd) {
  std::lock_guard lock(mutex_);
  look();
  if (newest().interrupts().vfio_set_trigger(eventfd) != 0) {
    throw std::logic_error("fake mshv: a VFIO trigger must be an eventfd");
  }
}

void FakeMshvDriver::vfio_interrupt(int eventfd) {
  std::lock_guard lock(mutex_);
  look();
  if (!newest().interrupts().vfio_interrupt(eventfd)) {
    throw std::logic_error("fake mshv: a device interrupt needs a VFIO trigger on the eventfd");
  }
}

uint64_t FakeMshvDriver::lost_device_interrupts() {
  std::lock_guard lock(mutex_);
  look();
  return newest().interrupts().lost_device_interrupts();
}

HvRegisterValue FakeMshvDriver::vp_register(unsigned vp, uint32_t name) const {
  std::lock_guard lock(mutex_);
  auto value = vp_of_newest(vp).get(name);
  if (!value) throw std::logic_error("fake mshv: unknown register");
  return *value;
}

void FakeMshvDriver::set_vp_register(unsigned vp, uint32_t name, HvRegisterValue value) {
  std::lock_guard lock(mutex_);
  if (!vp_of_newest(vp).set(name, value)) throw std::logic_error("fake mshv: unknown register");
}

HvLapicState FakeMshvDriver::lapic(unsigned vp) const {
  std::lock_guard lock(mutex_);
  HvLapicState state;
  std::memcpy(&state, vp_of_newest(vp).lapic_page(), sizeof state);
  return state;
}

CpuidRegs FakeMshvDriver::guest_cpuid(unsigned vp, uint32_t leaf, uint32_t subleaf) const {
  std::lock_guard lock(mutex_);
  auto it = options_.host_cpuid.find({leaf, subleaf});
  const CpuidRegs host = it == options_.host_cpuid.end() ? CpuidRegs{} : it->second;
  return vp_of_newest(vp).cpuid(host, leaf, subleaf);
}

unsigned FakeMshvDriver::runs(unsigned vp) const {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(vp);
  return it == runs_.end() ? 0 : it->second;
}

// --- the guest ----------------------------------------------------------------------------------

void FakeMshvDriver::execute_guest(unsigned vp) {
  std::lock_guard lock(mutex_);
  FakeVp& target = vp_of_newest(vp);
  target.executing = true;
  (void)target.wake().signal();
}

void FakeMshvDriver::annotate_mmio(uint64_t rip, FakeMmioAccess access) {
  std::lock_guard lock(mutex_);
  mmio_[rip] = access;
}

void FakeMshvDriver::play(unsigned vp, FakeGuestEvent event) {
  std::lock_guard lock(mutex_);
  FakeVp& target = vp_of_newest(vp);
  target.events().push_back(std::move(event));
  (void)target.wake().signal();
}

std::vector<FakeException> FakeMshvDriver::exceptions(unsigned vp) const {
  std::lock_guard lock(mutex_);
  return vp_of_newest(vp).exceptions();
}

std::string FakeMshvDriver::beyond_model() const {
  std::lock_guard lock(mutex_);
  return beyond_model_;
}

}  // namespace ferry::test

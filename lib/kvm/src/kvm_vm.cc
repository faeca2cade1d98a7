#include "kvm_vm.h"

#include <algorithm>
#include <set>

#include "ferry/base/checked.h"
#include "kvm_abi.h"
#include "kvm_vcpu.h"

namespace ferry::kvm {
namespace {

constexpr uint64_t kPageSize = 4096;

void* as_arg(uint64_t value) { return reinterpret_cast<void*>(value); }

}  // namespace

Expected<std::unique_ptr<KvmVm>> KvmVm::create(KvmSys& sys, int kvm_fd, size_t vcpu_mmap_size,
                                               unsigned max_vcpus, unsigned max_routes) {
  int fd = sys.ioctl(kvm_fd, KVM_CREATE_VM, nullptr);
  if (fd < 0) return fail_errno(-fd, "KVM_CREATE_VM");
  std::unique_ptr<KvmVm> vm(new KvmVm(sys, UniqueFd(fd), vcpu_mmap_size, max_vcpus, max_routes));
  FERRY_TRY(vm->set_up_platform());
  return vm;
}

Expected<void> KvmVm::set_up_platform() {
  int r = sys_.ioctl(fd_.get(), KVM_SET_TSS_ADDR, as_arg(kKvmTssAddress));
  if (r < 0) return fail_errno(-r, "KVM_SET_TSS_ADDR");
  uint64_t identity_map = kKvmIdentityMapAddress;
  r = sys_.ioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &identity_map);
  if (r < 0 && r != -ENOTTY) return fail_errno(-r, "KVM_SET_IDENTITY_MAP_ADDR");
  // Local APICs only. No in-kernel PIC, IOAPIC or PIT: destroying those costs an SRCU grace
  // period each (15-25 ms per VM measured here), and ferry's IOAPIC is its own (vmm::Ioapic).
  kvm_enable_cap split{};
  split.cap = KVM_CAP_SPLIT_IRQCHIP;
  split.args[0] = kIoapicPins;
  r = sys_.ioctl(fd_.get(), KVM_ENABLE_CAP, &split);
  if (r < 0) return fail_errno(-r, "KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP)");
  return {};
}

Expected<std::unique_ptr<accel::Vcpu>> KvmVm::create_vcpu(unsigned index) {
  {
    std::lock_guard lock(mutex_);
    if (index >= vcpu_created_.size()) {
      return fail(Errc::kInvalidArgument, "vCPU index {} is beyond this KVM's limit of {}", index,
                  vcpu_created_.size());
    }
    if (vcpu_created_[index]) {
      return fail(Errc::kExists, "vCPU {} already exists", index);
    }
    vcpu_created_[index] = true;
  }
  int fd = sys_.ioctl(fd_.get(), KVM_CREATE_VCPU, as_arg(index));
  if (fd < 0) {
    std::lock_guard lock(mutex_);
    vcpu_created_[index] = false;
    return fail_errno(-fd, fmt::format("KVM_CREATE_VCPU {}", index));
  }
  FERRY_ASSIGN(auto vcpu, KvmVcpu::create(sys_, UniqueFd(fd), index, vcpu_mmap_size_));
  return std::unique_ptr<accel::Vcpu>(std::move(vcpu));
}

uint32_t KvmVm::allocate_slot_id() const {
  std::set<uint32_t> used;
  for (const Slot& s : slots_) used.insert(s.id);
  uint32_t id = 0;
  while (used.count(id) != 0) ++id;
  return id;
}

Expected<void> KvmVm::map_memory(uint64_t gpa, uint64_t size, void* host, bool writable) {
  auto host_address = reinterpret_cast<uint64_t>(host);
  if (size == 0 || !is_aligned(gpa | size | host_address, kPageSize)) {
    return fail(Errc::kInvalidArgument,
                "guest memory {:#x}+{:#x} at host {:#x} must be non-empty and page aligned", gpa,
                size, host_address);
  }
  if (!checked_add(gpa, size)) {
    return fail(Errc::kInvalidArgument, "guest memory {:#x}+{:#x} wraps", gpa, size);
  }
  std::lock_guard lock(mutex_);
  for (const Slot& s : slots_) {
    if (ranges_overlap(gpa, size, s.gpa, s.size)) {
      return fail(Errc::kExists, "guest memory {:#x}+{:#x} overlaps the mapped {:#x}+{:#x}", gpa,
                  size, s.gpa, s.size);
    }
  }
  kvm_userspace_memory_region region{};
  region.slot = allocate_slot_id();
  region.flags = writable ? 0 : KVM_MEM_READONLY;
  region.guest_phys_addr = gpa;
  region.memory_size = size;
  region.userspace_addr = host_address;
  int r = sys_.ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region);
  if (r < 0) {
    return fail_errno(-r, fmt::format("KVM_SET_USER_MEMORY_REGION {:#x}+{:#x}", gpa, size));
  }
  slots_.push_back({region.slot, gpa, size});
  return {};
}

Expected<void> KvmVm::unmap_memory(uint64_t gpa, uint64_t size) {
  std::lock_guard lock(mutex_);
  auto slot = std::find_if(slots_.begin(), slots_.end(),
                           [&](const Slot& s) { return s.gpa == gpa && s.size == size; });
  if (slot == slots_.end()) {
    return fail(Errc::kNotFound, "no guest memory mapping is exactly {:#x}+{:#x}", gpa, size);
  }
  kvm_userspace_memory_region region{};
  region.slot = slot->id;
  region.guest_phys_addr = gpa;  // size 0 deletes the slot
  int r = sys_.ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region);
  if (r < 0) return fail_errno(-r, fmt::format("deleting memory slot {}", slot->id));
  slots_.erase(slot);
  return {};
}

Expected<void> KvmVm::set_msi_routes(std::span<const accel::MsiRoute> routes) {
  std::vector<kvm_irq_routing_entry> table;
  std::set<uint32_t> seen;
  for (const accel::MsiRoute& route : routes) {
    if (route.gsi >= max_routes_) {
      return fail(Errc::kNoResources, "MSI route on GSI {}: KVM allows GSIs below {}", route.gsi,
                  max_routes_);
    }
    if (!seen.insert(route.gsi).second) {
      return fail(Errc::kInvalidArgument, "two MSI routes for GSI {}", route.gsi);
    }
    kvm_irq_routing_entry entry{};
    entry.gsi = route.gsi;
    entry.type = KVM_IRQ_ROUTING_MSI;
    entry.u.msi.address_lo = static_cast<uint32_t>(route.address);
    entry.u.msi.address_hi = static_cast<uint32_t>(route.address >> 32);
    entry.u.msi.data = route.data;
    table.push_back(entry);
  }
  KvmIrqRouting routing(table.size());
  routing.header().nr = static_cast<uint32_t>(table.size());
  std::copy(table.begin(), table.end(), routing.entries());
  int r = sys_.ioctl(fd_.get(), kKvmSetGsiRouting, routing.data());
  if (r < 0) return fail_errno(-r, "KVM_SET_GSI_ROUTING");
  return {};
}

Expected<void> KvmVm::register_irqfd(int eventfd, uint32_t gsi, std::optional<int> resample_fd) {
  kvm_irqfd irqfd{};
  irqfd.fd = static_cast<uint32_t>(eventfd);
  irqfd.gsi = gsi;
  if (resample_fd) {
    irqfd.flags = KVM_IRQFD_FLAG_RESAMPLE;
    irqfd.resamplefd = static_cast<uint32_t>(*resample_fd);
  }
  int r = sys_.ioctl(fd_.get(), KVM_IRQFD, &irqfd);
  if (r < 0) return fail_errno(-r, fmt::format("KVM_IRQFD on GSI {}", gsi));
  return {};
}

Expected<void> KvmVm::unregister_irqfd(int eventfd, uint32_t gsi) {
  kvm_irqfd irqfd{};
  irqfd.fd = static_cast<uint32_t>(eventfd);
  irqfd.gsi = gsi;
  irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
  int r = sys_.ioctl(fd_.get(), KVM_IRQFD, &irqfd);
  if (r < 0) return fail_errno(-r, fmt::format("KVM_IRQFD deassign on GSI {}", gsi));
  return {};
}

Expected<void> KvmVm::ioeventfd(const accel::IoEventFd& event, bool deassign) {
  kvm_ioeventfd request{};
  request.addr = event.address;
  request.len = event.length;
  request.fd = event.fd;
  if (event.space == accel::IoSpace::kPio) request.flags |= KVM_IOEVENTFD_FLAG_PIO;
  if (event.datamatch) {
    request.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
    request.datamatch = *event.datamatch;
  }
  if (deassign) request.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
  int r = sys_.ioctl(fd_.get(), KVM_IOEVENTFD, &request);
  if (r < 0) {
    return fail_errno(-r, fmt::format("KVM_IOEVENTFD{} {} {:#x}/{}", deassign ? " deassign" : "",
                                      event.space == accel::IoSpace::kPio ? "port" : "mmio",
                                      event.address, event.length));
  }
  return {};
}

Expected<void> KvmVm::register_ioeventfd(const accel::IoEventFd& event) {
  return ioeventfd(event, false);
}

Expected<void> KvmVm::unregister_ioeventfd(const accel::IoEventFd& event) {
  return ioeventfd(event, true);
}

namespace {

// KVM's VFIO device: groups are added and deleted through KVM_SET_DEVICE_ATTR.
class KvmVfioBridge final : public accel::VfioBridge {
 public:
  KvmVfioBridge(KvmSys& sys, UniqueFd fd) : sys_(sys), fd_(std::move(fd)) {}
  Expected<void> add_group(int group_fd) override {
    return set(KVM_DEV_VFIO_GROUP_ADD, group_fd, "KVM_DEV_VFIO_GROUP_ADD");
  }
  Expected<void> remove_group(int group_fd) override {
    return set(KVM_DEV_VFIO_GROUP_DEL, group_fd, "KVM_DEV_VFIO_GROUP_DEL");
  }

 private:
  Expected<void> set(uint64_t attr, int group_fd, const char* what) {
    int32_t fd = group_fd;
    kvm_device_attr args{};
    args.group = KVM_DEV_VFIO_GROUP;  // KVM_DEV_VFIO_FILE in newer headers, same number
    args.attr = attr;
    args.addr = reinterpret_cast<uint64_t>(&fd);
    int r = sys_.ioctl(fd_.get(), KVM_SET_DEVICE_ATTR, &args);
    if (r < 0) return fail_errno(-r, fmt::format("KVM_SET_DEVICE_ATTR({})", what));
    return {};
  }

  KvmSys& sys_;
  UniqueFd fd_;
};

}  // namespace

Expected<std::unique_ptr<accel::VfioBridge>> KvmVm::create_vfio_bridge() {
  kvm_create_device args{};
  args.type = KVM_DEV_TYPE_VFIO;
  int r = sys_.ioctl(fd_.get(), KVM_CREATE_DEVICE, &args);
  if (r < 0) {
    return fail_errno(-r,
                      "KVM_CREATE_DEVICE(KVM_DEV_TYPE_VFIO) (is the kernel's VFIO "
                      "support, CONFIG_KVM_VFIO, missing?)");
  }
  return std::make_unique<KvmVfioBridge>(sys_, UniqueFd(static_cast<int>(args.fd)));
}

}  // namespace ferry::kvm

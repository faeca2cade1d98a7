#include "mshv_vm.h"

#include <cerrno>

#include "ferry/mshv/mshv_abi.h"
#include "ioctl_error.h"
#include "mshv_vcpu.h"

namespace ferry::mshv {
namespace {

constexpr uint64_t kPartitionFlags = kPtLapic | kPtX2apic | kPtGpaSuperPages;

Expected<UniqueFd> create_partition(MshvDriver& driver, int mshv_fd, const MshvOptions& options) {
  MshvCreatePartitionV2 v2{};
  MshvCreatePartition v1{kPartitionFlags, kPtIsolationNone};
  void* args = &v1;
  if (options.cpu_feature_banks) {
    v2.pt_flags = kPartitionFlags | kPtCpuAndXsaveFeatures;
    v2.pt_isolation = kPtIsolationNone;
    v2.pt_num_cpu_fbanks = kCpuFeatureBanks;
    v2.pt_cpu_fbanks[0] = options.disabled_processor_features[0];
    v2.pt_cpu_fbanks[1] = options.disabled_processor_features[1];
    v2.pt_disabled_xsave = options.disabled_xsave_features;
    args = &v2;
  }
  int fd = driver.ioctl(mshv_fd, kMshvCreatePartition, args);
  if (fd >= 0) return UniqueFd(fd);
  if (fd == -EINVAL && options.cpu_feature_banks) {
    return fail(Errc::kUnsupported,
                "MSHV_CREATE_PARTITION: this kernel refuses CPU feature banks at partition "
                "creation (MSHV_PT_BIT_CPU_AND_XSAVE_FEATURES; Linux 6.15 and 6.16 take bits 0-2 "
                "only); create the partition without disabled CPU features or use a newer kernel");
  }
  return fail(ioctl_error(-fd, kMshvCreatePartition, "(LAPIC, X2APIC, GPA super pages)"));
}

}  // namespace

Expected<std::unique_ptr<MshvVm>> MshvVm::create(MshvDriver& driver, int mshv_fd,
                                                 const MshvOptions& options, unsigned max_vcpus) {
  FERRY_ASSIGN(UniqueFd fd, create_partition(driver, mshv_fd, options));
  FERRY_ASSIGN(auto partition, MshvPartition::create(driver, std::move(fd)));
  const Hvcall hv = partition->hvcall();
  // An "early" property: the hypervisor takes it only before the partition is initialized.
  FERRY_TRY(hv.set_partition_property(kHvPropertySyntheticProcFeatures, kDefaultSyntheticFeatures));
  int r = driver.ioctl(partition->fd(), kMshvInitializePartition, nullptr);
  if (r < 0) return fail(ioctl_error(-r, kMshvInitializePartition, "of the new partition"));
  FERRY_TRY(hv.set_partition_property(kHvPropertyUnimplementedMsrAction,
                                      kUnimplementedMsrIgnoreWriteReadZero));
  FERRY_TRY(hv.set_partition_property(kHvPropertyTimeFreeze, 1));
  return std::unique_ptr<MshvVm>(
      new MshvVm(std::move(partition), options.mmio_emulator, max_vcpus));
}

Expected<std::unique_ptr<accel::Vcpu>> MshvVm::create_vcpu(unsigned index) {
  {
    std::lock_guard lock(mutex_);
    if (index >= vcpu_created_.size()) {
      return fail(Errc::kInvalidArgument, "vCPU index {} is beyond MSHV's limit of {} VPs", index,
                  vcpu_created_.size());
    }
    if (vcpu_created_[index]) return fail(Errc::kExists, "vCPU {} already exists", index);
    vcpu_created_[index] = true;
  }
  MshvCreateVp args{index};
  int fd = partition_->driver().ioctl(partition_->fd(), kMshvCreateVp, &args);
  if (fd < 0) {
    std::lock_guard lock(mutex_);
    vcpu_created_[index] = false;
    return fail(ioctl_error(-fd, kMshvCreateVp, fmt::format("{}", index)));
  }
  auto vcpu = MshvVcpu::create(partition_, UniqueFd(fd), index, emulator_.get());
  if (!vcpu) return fail(vcpu.error().context(fmt::format("vCPU {}", index)));
  return std::unique_ptr<accel::Vcpu>(std::move(*vcpu));
}

Expected<void> MshvVm::map_memory(uint64_t gpa, uint64_t size, void* host, bool writable) {
  return partition_->map_memory(gpa, size, host, writable);
}

Expected<void> MshvVm::map_device_memory(uint64_t gpa, uint64_t size, void* host) {
  return partition_->map_memory(gpa, size, host, true, MshvPartition::Backing::kDevice);
}

Expected<void> MshvVm::unmap_memory(uint64_t gpa, uint64_t size) {
  return partition_->unmap_memory(gpa, size);
}

Expected<void> MshvVm::set_msi_routes(std::span<const accel::MsiRoute> routes) {
  return partition_->set_msi_routes(routes);
}

Expected<void> MshvVm::register_irqfd(int eventfd, uint32_t gsi, std::optional<int> resample_fd) {
  return partition_->irqfd(eventfd, gsi, resample_fd, false);
}

Expected<void> MshvVm::unregister_irqfd(int eventfd, uint32_t gsi) {
  return partition_->irqfd(eventfd, gsi, std::nullopt, true);
}

Expected<void> MshvVm::register_ioeventfd(const accel::IoEventFd& event) {
  return partition_->ioeventfd(event, false);
}

Expected<void> MshvVm::unregister_ioeventfd(const accel::IoEventFd& event) {
  return partition_->ioeventfd(event, true);
}

namespace {

// The partition's VFIO device: each group is attached with MSHV_SET_DEVICE_ATTR and detached
// the same way before the partition closes (mshv-abi.md).
class MshvVfioBridge final : public accel::VfioBridge {
 public:
  MshvVfioBridge(std::shared_ptr<MshvPartition> partition, UniqueFd fd)
      : partition_(std::move(partition)), fd_(std::move(fd)) {}
  Expected<void> add_group(int group_fd) override { return set(kMshvDevVfioFileAdd, group_fd); }
  Expected<void> remove_group(int group_fd) override { return set(kMshvDevVfioFileDel, group_fd); }

 private:
  Expected<void> set(uint64_t attr, int group_fd) {
    int32_t fd = group_fd;
    MshvDeviceAttr args{.flags = 0,
                        .group = kMshvDevVfioFile,
                        .attr = attr,
                        .addr = reinterpret_cast<uint64_t>(&fd)};
    int r = partition_->driver().ioctl(fd_.get(), kMshvSetDeviceAttr, &args);
    if (r < 0) {
      return fail(ioctl_error(-r, kMshvSetDeviceAttr,
                              attr == kMshvDevVfioFileAdd ? "VFIO_FILE_ADD" : "VFIO_FILE_DEL"));
    }
    return {};
  }

  std::shared_ptr<MshvPartition> partition_;  // the device must not outlive the partition
  UniqueFd fd_;
};

}  // namespace

Expected<std::unique_ptr<accel::VfioBridge>> MshvVm::create_vfio_bridge() {
  MshvCreateDevice args{};
  args.type = kMshvDevTypeVfio;
  int r = partition_->driver().ioctl(partition_->fd(), kMshvCreateDevice, &args);
  if (r == -ENOTTY) {
    return fail(Errc::kUnsupported,
                "MSHV_CREATE_DEVICE: this kernel's /dev/mshv has no VFIO bridge device (it comes "
                "with Microsoft's not-yet-upstream \"PCI passthru on Hyper-V\" series); device "
                "assignment on MSHV needs a kernel that has it");
  }
  if (r < 0) return fail(ioctl_error(-r, kMshvCreateDevice, "of type VFIO"));
  return std::make_unique<MshvVfioBridge>(partition_, UniqueFd(static_cast<int>(args.fd)));
}

}  // namespace ferry::mshv

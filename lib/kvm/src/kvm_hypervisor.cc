#include "ferry/kvm/kvm_hypervisor.h"

#include <linux/kvm.h>

#include <algorithm>

#include "kvm_abi.h"
#include "kvm_vm.h"

namespace ferry::kvm {
namespace {

constexpr int kKvmApiVersion = 12;
constexpr unsigned kMaxCpuidEntries = 256;

struct RequiredCap {
  int cap;
  const char* name;
  const char* used_for;
};

constexpr RequiredCap kRequiredCaps[] = {
    {KVM_CAP_SPLIT_IRQCHIP, "KVM_CAP_SPLIT_IRQCHIP", "in-kernel local APICs"},
    {KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING", "MSI routing"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "eventfd interrupt injection"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "exit-free doorbells"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "race-free vCPU kicks"},
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest memory"},
    {KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE", "starting several vCPUs"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "real-mode guests on Intel"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "guest CPUID"},
};

Error open_error(int err, const std::string& path) {
  switch (err) {
    case ENOENT:
      return Error(Errc::kNotFound,
                   fmt::format("{} does not exist: this host has no KVM. Load the module "
                               "(modprobe kvm_intel or kvm_amd), enable virtualization in the "
                               "firmware, or use --accel mshv on a Microsoft Hypervisor root",
                               path),
                   err);
    case EACCES:
    case EPERM:
      return Error(Errc::kPermission,
                   fmt::format("{}: permission denied. Add your user to the kvm group "
                               "(sudo usermod -aG kvm $USER, then log in again) or run as root",
                               path),
                   err);
    default:
      return Error::from_errno(err, fmt::format("opening {}", path));
  }
}

}  // namespace

Expected<std::unique_ptr<KvmHypervisor>> KvmHypervisor::open(KvmSys& sys, const std::string& path) {
  int fd = sys.open_device(path.c_str());
  if (fd < 0) return fail(open_error(-fd, path));
  std::unique_ptr<KvmHypervisor> kvm(new KvmHypervisor(sys, UniqueFd(fd)));
  FERRY_TRY(kvm->check_capabilities());
  return kvm;
}

Expected<void> KvmHypervisor::check_capabilities() {
  int version = sys_.ioctl(fd_.get(), KVM_GET_API_VERSION, nullptr);
  if (version != kKvmApiVersion) {
    return fail(Errc::kUnsupported, "KVM API version is {}, ferry needs {}", version,
                kKvmApiVersion);
  }
  for (const RequiredCap& cap : kRequiredCaps) {
    if (sys_.ioctl(fd_.get(), KVM_CHECK_EXTENSION, reinterpret_cast<void*>(cap.cap)) <= 0) {
      return fail(Errc::kUnsupported,
                  "this kernel's KVM lacks {} (needed for {}); use a newer "
                  "kernel",
                  cap.name, cap.used_for);
    }
  }
  int mmap_size = sys_.ioctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, nullptr);
  if (mmap_size < static_cast<int>(sizeof(kvm_run))) {
    return fail(Errc::kUnsupported, "KVM_GET_VCPU_MMAP_SIZE returned {}", mmap_size);
  }
  vcpu_mmap_size_ = static_cast<size_t>(mmap_size);
  // KVM_CAP_MAX_VCPUS may be absent on old kernels; NR_VCPUS is the recommended count then.
  int max = sys_.ioctl(fd_.get(), KVM_CHECK_EXTENSION, reinterpret_cast<void*>(KVM_CAP_MAX_VCPUS));
  if (max <= 0) {
    max = sys_.ioctl(fd_.get(), KVM_CHECK_EXTENSION, reinterpret_cast<void*>(KVM_CAP_NR_VCPUS));
  }
  max_vcpus_ = static_cast<unsigned>(std::max(max, 1));
  max_routes_ = static_cast<unsigned>(
      sys_.ioctl(fd_.get(), KVM_CHECK_EXTENSION, reinterpret_cast<void*>(KVM_CAP_IRQ_ROUTING)));
  return {};
}

Expected<std::vector<accel::CpuidEntry>> KvmHypervisor::supported_cpuid() {
  KvmCpuid cpuid(kMaxCpuidEntries);
  cpuid.header().nent = kMaxCpuidEntries;
  int result = sys_.ioctl(fd_.get(), kKvmGetSupportedCpuid, cpuid.data());
  if (result < 0) return fail_errno(-result, "KVM_GET_SUPPORTED_CPUID");
  std::vector<accel::CpuidEntry> entries;
  entries.reserve(cpuid.header().nent);
  for (uint32_t i = 0; i < cpuid.header().nent; ++i) {
    const kvm_cpuid_entry2& e = cpuid.entries()[i];
    entries.push_back({e.function, e.index, e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX, e.eax, e.ebx,
                       e.ecx, e.edx});
  }
  return entries;
}

Expected<std::unique_ptr<accel::Vm>> KvmHypervisor::create_vm(const accel::VmOptions& options) {
  if (options.vcpus == 0 || options.vcpus > max_vcpus_) {
    return fail(Errc::kInvalidArgument, "{} vCPUs requested; this KVM allows 1 to {}",
                options.vcpus, max_vcpus_);
  }
  FERRY_ASSIGN(auto vm, KvmVm::create(sys_, fd_.get(), vcpu_mmap_size_, max_vcpus_, max_routes_));
  return std::unique_ptr<accel::Vm>(std::move(vm));
}

}  // namespace ferry::kvm

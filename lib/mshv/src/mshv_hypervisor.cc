#include "ferry/mshv/mshv_hypervisor.h"

#include <cerrno>

#include "ferry/mshv/mshv_abi.h"
#include "host_cpuid.h"
#include "mshv_vm.h"

namespace ferry::mshv {
namespace {

Error open_error(int err, const std::string& path) {
  switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return Error(Errc::kNotFound,
                   fmt::format("{} does not exist: this host is not a Microsoft Hypervisor root "
                               "partition, or its kernel lacks the mshv_root driver (Linux 6.15+, "
                               "CONFIG_MSHV_ROOT; try modprobe mshv_root). On a KVM host use "
                               "--accel kvm",
                               path),
                   err);
    case EACCES:
    case EPERM:
      return Error(Errc::kPermission,
                   fmt::format("{}: permission denied; the device is root-only by default (mode "
                               "0600). Run as root or grant your user access to {}",
                               path, path),
                   err);
    default:
      return Error::from_errno(err, fmt::format("opening {}", path));
  }
}

}  // namespace

Expected<std::unique_ptr<MshvHypervisor>> MshvHypervisor::open(MshvDriver& driver,
                                                               const std::string& path,
                                                               MshvOptions options) {
  int fd = driver.open_device(path.c_str());
  if (fd < 0) return fail(open_error(-fd, path));
  return std::unique_ptr<MshvHypervisor>(
      new MshvHypervisor(driver, UniqueFd(fd), std::move(options)));
}

unsigned MshvHypervisor::max_vcpus() const { return kMshvMaxVps; }

Expected<std::vector<accel::CpuidEntry>> MshvHypervisor::supported_cpuid() {
  return host_cpuid_table(driver_);
}

Expected<std::unique_ptr<accel::Vm>> MshvHypervisor::create_vm(const accel::VmOptions& options) {
  if (options.vcpus == 0 || options.vcpus > kMshvMaxVps) {
    return fail(Errc::kInvalidArgument, "{} vCPUs requested; MSHV allows 1 to {}", options.vcpus,
                kMshvMaxVps);
  }
  auto vm = MshvVm::create(driver_, fd_.get(), options_, kMshvMaxVps);
  if (!vm) return fail(vm.error().context("creating the MSHV partition"));
  return std::unique_ptr<accel::Vm>(std::move(*vm));
}

}  // namespace ferry::mshv

#include "ferry/vfio/group.h"

#include <linux/vfio.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

namespace ferry::vfio {

namespace fs = std::filesystem;

std::string holders_of(const std::string& path) {
  std::vector<std::string> found;
  std::error_code ec;
  const std::string self = std::to_string(::getpid());
  for (const auto& proc : fs::directory_iterator("/proc", ec)) {
    const std::string pid = proc.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos || pid == self) continue;
    std::error_code fd_ec;
    for (const auto& fd : fs::directory_iterator(proc.path() / "fd", fd_ec)) {
      std::error_code link_ec;
      if (fs::read_symlink(fd.path(), link_ec) != path) continue;
      std::string comm;
      std::ifstream(proc.path() / "comm") >> comm;
      found.push_back(fmt::format("pid {} ({})", pid, comm));
      break;
    }
  }
  std::string joined;
  for (const std::string& f : found) joined += (joined.empty() ? "" : ", ") + f;
  return joined;
}

Expected<Group> Group::open(VfioSys& sys, unsigned number) {
  const std::string path = fmt::format("/dev/vfio/{}", number);
  int fd = sys.open(path.c_str());
  if (fd == -EBUSY) {
    const std::string holders = holders_of(path);
    return fail(Errc::kBusy,
                "IOMMU group {} ({}) is busy: {}; a group serves one VM at a time, so stop that "
                "VM first",
                number, path,
                holders.empty() ? "another process holds it open" : "it is held by " + holders);
  }
  if (fd < 0) {
    return fail(Error::from_errno(-fd, "opening " + path)
                    .context(fmt::format("IOMMU group {}: is the device bound to vfio-pci? "
                                         "(ferry check shows how)",
                                         number)));
  }
  Group group(sys, number, UniqueFd(fd));
  vfio_group_status status{};
  status.argsz = sizeof status;
  if (int r = sys.ioctl(fd, VFIO_GROUP_GET_STATUS, &status); r < 0) {
    return fail_errno(-r, "VFIO_GROUP_GET_STATUS of " + path);
  }
  if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
    return fail(Errc::kInvalidArgument,
                "IOMMU group {} is not viable: a device in it is still bound to a host driver "
                "(ferry check names it and the fix)",
                number);
  }
  return group;
}

Expected<UniqueFd> Group::device_fd(const std::string& bdf) const {
  int fd = sys_->ioctl(fd_.get(), VFIO_GROUP_GET_DEVICE_FD, const_cast<char*>(bdf.c_str()));
  if (fd < 0) {
    return fail(Error::from_errno(-fd, fmt::format("VFIO_GROUP_GET_DEVICE_FD({})", bdf))
                    .context(fmt::format("IOMMU group {}", number_)));
  }
  return UniqueFd(fd);
}

}  // namespace ferry::vfio

// Asks the running kernel about VFIO directly, with none of ferry's code (only libc and
// <linux/vfio.h>), so the lab test (lab_test.cc) can hold ferry's verdicts against the kernel's.
// For every group file /dev/vfio/N: VFIO_GROUP_GET_STATUS, and for each viable group an attach
// to a fresh type1v2 container (each group its own, so one failure does not hide another), then
// a detach. One line each:
//
//   container api <version> type1v2 yes|no       or: container open-failed <ERRNO>
//   group <N> viable attached
//   group <N> viable attach-failed <step> <ERRNO>  step: open-container, set-container,
//                                                  set-iommu, unset-container
//   group <N> not-viable
//   group <N> open-failed <ERRNO>                  or: status-failed <ERRNO>
//
// Exit status: 0 it ran (what it found is in the output), 1 /dev/vfio cannot be listed.
#include <dirent.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr const char* kVfioDir = "/dev/vfio";
constexpr const char* kContainerPath = "/dev/vfio/vfio";

const char* errno_name() {
  const char* name = strerrorname_np(errno);
  return name != nullptr ? name : "E?";
}

bool all_digits(const char* s) {
  if (*s == '\0') return false;
  for (; *s != '\0'; ++s) {
    if (*s < '0' || *s > '9') return false;
  }
  return true;
}

// The group numbers of /dev/vfio/N, ascending; false when the directory cannot be read.
bool list_groups(std::vector<int>& groups) {
  DIR* dir = opendir(kVfioDir);
  if (dir == nullptr) return false;
  while (const dirent* entry = readdir(dir)) {
    if (all_digits(entry->d_name)) groups.push_back(std::atoi(entry->d_name));
  }
  closedir(dir);
  std::sort(groups.begin(), groups.end());
  return true;
}

void print_container() {
  const int fd = open(kContainerPath, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    std::printf("container open-failed %s\n", errno_name());
    return;
  }
  const int api = ioctl(fd, VFIO_GET_API_VERSION);
  const int type1v2 = ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU);
  std::printf("container api %d type1v2 %s\n", api, type1v2 > 0 ? "yes" : "no");
  close(fd);
}

// Attaches the open group to a fresh type1v2 container and detaches it again. Returns the step
// that failed (errno says why), or nullptr.
const char* attach_and_detach(int group) {
  const int container = open(kContainerPath, O_RDWR | O_CLOEXEC);
  if (container < 0) return "open-container";
  const char* failed = nullptr;
  if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) != 0) {
    failed = "set-container";
  } else {
    // The IOMMU model is set once per container, after its first group joins.
    if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) != 0) failed = "set-iommu";
    const int saved = errno;
    if (ioctl(group, VFIO_GROUP_UNSET_CONTAINER) != 0 && failed == nullptr) {
      failed = "unset-container";
    } else {
      errno = saved;
    }
  }
  const int saved = errno;
  close(container);
  errno = saved;
  return failed;
}

void print_group(int number) {
  char path[64];
  std::snprintf(path, sizeof path, "%s/%d", kVfioDir, number);
  const int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    std::printf("group %d open-failed %s\n", number, errno_name());
    return;
  }
  vfio_group_status status{};
  status.argsz = sizeof status;
  if (ioctl(fd, VFIO_GROUP_GET_STATUS, &status) != 0) {
    std::printf("group %d status-failed %s\n", number, errno_name());
  } else if ((status.flags & VFIO_GROUP_FLAGS_VIABLE) == 0) {
    std::printf("group %d not-viable\n", number);
  } else if (const char* step = attach_and_detach(fd)) {
    std::printf("group %d viable attach-failed %s %s\n", number, step, errno_name());
  } else {
    std::printf("group %d viable attached\n", number);
  }
  close(fd);
}

}  // namespace

int main() {
  std::vector<int> groups;
  if (!list_groups(groups)) {
    std::fprintf(stderr, "vfio_kernel_probe: cannot list %s: %s\n", kVfioDir, std::strerror(errno));
    return 1;
  }
  print_container();
  for (int number : groups) print_group(number);
  return 0;
}

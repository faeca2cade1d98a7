// One IOMMU group opened through /dev/vfio/N: the unit the kernel isolates, and the door to its
// devices. Only one process may hold a group open at a time.
#pragma once

#include <string>

#include "ferry/base/error.h"
#include "ferry/base/unique_fd.h"
#include "ferry/vfio/vfio_sys.h"

namespace ferry::vfio {

class Group {
 public:
  /// Opens group `number` and checks it is viable. Another process holding it is kBusy, with
  /// that process named when /proc shows it.
  static Expected<Group> open(VfioSys& sys, unsigned number);

  unsigned number() const { return number_; }
  int fd() const { return fd_.get(); }
  /// The device at `bdf` ("0000:01:00.0"), as an fd of its own.
  Expected<UniqueFd> device_fd(const std::string& bdf) const;

 private:
  Group(VfioSys& sys, unsigned number, UniqueFd fd)
      : sys_(&sys), number_(number), fd_(std::move(fd)) {}

  VfioSys* sys_;
  unsigned number_;
  UniqueFd fd_;
};

/// The processes other than this one that hold `path` open, as "pid 123 (ferry)", comma
/// separated; empty when /proc shows none (or hides them).
std::string holders_of(const std::string& path);

}  // namespace ferry::vfio

// The hypervisor's side of device assignment: the VFIO groups whose devices a VM may use. KVM
// needs it for coherent DMA and interrupt bypass (KVM_DEV_TYPE_VFIO); MSHV to attach the device
// to the partition at all (MSHV_CREATE_DEVICE). lib/vfio adds a group before it takes the
// group's devices and removes it after closing them, before the group's fd closes.
#pragma once

#include "ferry/base/error.h"

namespace ferry::accel {

class VfioBridge {
 public:
  /// Removing the groups still added is the owner's job; destruction only closes the device.
  virtual ~VfioBridge() = default;
  /// Tells the hypervisor the VM uses the VFIO group open at `group_fd`.
  virtual Expected<void> add_group(int group_fd) = 0;
  /// Takes a group added before away from the VM.
  virtual Expected<void> remove_group(int group_fd) = 0;
};

}  // namespace ferry::accel

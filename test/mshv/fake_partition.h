// One partition of the fake /dev/mshv: its creation flags, properties and initialization, its
// VPs, guest memory and interrupt plumbing, and the hypercalls the kernel passes through to the
// hypervisor (with the kernel's argument checks first, then the hypervisor's).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fake_guest_memory.h"
#include "fake_interrupts.h"
#include "fake_mshv_types.h"
#include "fake_vp.h"
#include "ferry/mshv/hv_abi.h"
#include "ferry/mshv/mshv_abi.h"

namespace ferry::test {

class FakePartition {
 public:
  FakePartition(uint64_t id, const mshv::MshvCreatePartitionV2& creation)
      : id_(id), creation_(creation) {}

  uint64_t id() const { return id_; }
  const mshv::MshvCreatePartitionV2& creation() const { return creation_; }
  bool initialized() const { return initialized_; }
  void initialize() { initialized_ = true; }

  FakeGuestMemory& memory() { return memory_; }
  FakeInterrupts& interrupts() { return interrupts_; }
  FakeVp* vp(unsigned index) const { return index < vps_.size() ? vps_[index].get() : nullptr; }
  /// MSHV_CREATE_VP's checks: -EINVAL, -EEXIST, -EIO (not initialized) or 0 to go ahead.
  int check_new_vp(uint32_t index) const;
  void add_vp(std::unique_ptr<FakeVp> vp) { vps_[vp->index()] = std::move(vp); }

  std::optional<uint64_t> property(uint32_t code) const;
  const std::vector<std::pair<uint32_t, uint64_t>>& property_writes() const { return writes_; }

  /// MSHV_ROOT_HVCALL on the partition fd (from_vp null) or a VP fd. `detail` names what was
  /// called for the fake's log. `insufficient_memory` counts the calls left to fail with EAGAIN.
  int hypercall(mshv::MshvRootHvcall& args, const FakeVp* from_vp, int& insufficient_memory,
                std::string& detail);

 private:
  struct Result {
    uint16_t status = mshv::kHvStatusSuccess;
    uint16_t reps_done = 0;
  };
  Result dispatch(const mshv::MshvRootHvcall& args, const uint8_t* in, uint8_t* out,
                  std::string& detail);
  Result get_property(const uint8_t* in, size_t in_sz, uint8_t* out, size_t out_sz);
  Result set_property(const uint8_t* in, size_t in_sz, std::string& detail);
  Result get_registers(const mshv::MshvRootHvcall& args, const uint8_t* in, uint8_t* out);
  Result set_registers(const mshv::MshvRootHvcall& args, const uint8_t* in);
  Result translate(const uint8_t* in, size_t in_sz, uint8_t* out, size_t out_sz);
  Result register_intercept_result(const uint8_t* in, size_t in_sz);

  uint64_t id_;
  mshv::MshvCreatePartitionV2 creation_;
  bool initialized_ = false;
  std::map<uint32_t, uint64_t> properties_;
  std::vector<std::pair<uint32_t, uint64_t>> writes_;
  FakeGuestMemory memory_;
  FakeInterrupts interrupts_;
  std::array<std::unique_ptr<FakeVp>, mshv::kMshvMaxVps> vps_;
};

}  // namespace ferry::test

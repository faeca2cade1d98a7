// The fixture of the tests that drive the fake /dev/mshv with raw ioctls, as the kernel's own
// callers would: a device, one initialized partition, and helpers for the partition's ioctls.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <utility>
#include <vector>

#include "fake_mshv_driver.h"
#include "ferry/base/unique_fd.h"
#include "ferry/mshv/mshv_abi.h"

namespace ferry::test {

class FakeMshvDriverTest : public ::testing::Test {
 protected:
  explicit FakeMshvDriverTest(FakeMshvOptions options = {}) : fake_(std::move(options)) {}

  void SetUp() override {
    device_ = UniqueFd(fake_.open_device("/dev/mshv"));
    ASSERT_TRUE(device_.valid());
    mshv::MshvCreatePartition create{mshv::kPtLapic | mshv::kPtX2apic | mshv::kPtGpaSuperPages,
                                     mshv::kPtIsolationNone};
    partition_ = UniqueFd(fake_.ioctl(device_.get(), mshv::kMshvCreatePartition, &create));
    ASSERT_TRUE(partition_.valid());
    ASSERT_EQ(fake_.ioctl(partition_.get(), mshv::kMshvInitializePartition, nullptr), 0);
  }

  int set_routes(std::vector<mshv::MshvUserIrqEntry> entries, uint32_t rsvd = 0) {
    std::vector<uint8_t> table(sizeof(mshv::MshvUserIrqTable) +
                               entries.size() * sizeof(mshv::MshvUserIrqEntry));
    mshv::MshvUserIrqTable header{static_cast<uint32_t>(entries.size()), rsvd};
    std::memcpy(table.data(), &header, sizeof header);
    std::memcpy(table.data() + sizeof header, entries.data(),
                entries.size() * sizeof(mshv::MshvUserIrqEntry));
    return fake_.ioctl(partition_.get(), mshv::kMshvSetMsiRouting, table.data());
  }

  int irqfd(int fd, uint32_t gsi, uint32_t flags = 0, int resample = 0) {
    mshv::MshvUserIrqfd args{fd, resample, gsi, flags};
    return fake_.ioctl(partition_.get(), mshv::kMshvIrqfd, &args);
  }

  int ioeventfd(int fd, uint64_t addr, uint32_t len, uint32_t flags, uint64_t datamatch = 0) {
    mshv::MshvUserIoeventfd args{};
    args.fd = fd;
    args.addr = addr;
    args.len = len;
    args.flags = flags;
    args.datamatch = datamatch;
    return fake_.ioctl(partition_.get(), mshv::kMshvIoeventfd, &args);
  }

  UniqueFd create_vp(uint32_t index) {
    mshv::MshvCreateVp vp{index};
    return UniqueFd(fake_.ioctl(partition_.get(), mshv::kMshvCreateVp, &vp));
  }

  int hypercall(int fd, mshv::MshvRootHvcall& args) {
    return fake_.ioctl(fd, mshv::kMshvRootHvcall, &args);
  }

  static mshv::MshvUserIrqEntry msi(uint32_t gsi, uint8_t vector, bool level = false) {
    return {gsi, 0xfee00000, 0, vector | (level ? 1u << 15 : 0u)};
  }

  FakeMshvDriver fake_;
  UniqueFd device_;
  UniqueFd partition_;
};

}  // namespace ferry::test

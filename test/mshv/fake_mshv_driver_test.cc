// The fake /dev/mshv must refuse what the kernel refuses, with the kernel's errno: a fake that
// accepts everything would prove nothing about the backend. These tests drive it with raw
// ioctls, as the kernel's own callers would.
#include "fake_mshv_driver_test.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "ferry/base/event_fd.h"
#include "ferry/base/unique_fd.h"

namespace ferry::test {
namespace {

using namespace mshv;
using ::testing::ElementsAre;

TEST(FakeMshvDevice, AbsentDeviceIsEnoent) {
  FakeMshvOptions options;
  options.device_present = false;
  FakeMshvDriver fake(options);
  EXPECT_EQ(fake.open_device("/dev/mshv"), -ENOENT);
}

TEST(FakeMshvDevice, CreatePartitionChecksFlagsAndTheV2Argument) {
  FakeMshvDriver old_kernel;
  UniqueFd device(old_kernel.open_device("/dev/mshv"));
  MshvCreatePartition unknown_bit{1ull << 6, 0};
  EXPECT_EQ(old_kernel.ioctl(device.get(), kMshvCreatePartition, &unknown_bit), -EINVAL);
  MshvCreatePartition isolated{kPtLapic, 1};
  EXPECT_EQ(old_kernel.ioctl(device.get(), kMshvCreatePartition, &isolated), -EINVAL);
  MshvCreatePartitionV2 v2{};
  v2.pt_flags = kPtLapic | kPtCpuAndXsaveFeatures;
  v2.pt_num_cpu_fbanks = 2;
  EXPECT_EQ(old_kernel.ioctl(device.get(), kMshvCreatePartition, &v2), -EINVAL)
      << "6.15/6.16 take bits 0-2 only";

  FakeMshvOptions options;
  options.cpu_feature_banks = true;
  FakeMshvDriver new_kernel(options);
  UniqueFd device2(new_kernel.open_device("/dev/mshv"));
  v2.pt_num_cpu_fbanks = 1;
  EXPECT_EQ(new_kernel.ioctl(device2.get(), kMshvCreatePartition, &v2), -EINVAL);
  v2.pt_num_cpu_fbanks = 2;
  v2.pt_cpu_fbanks[1] = 0x42;
  UniqueFd partition(new_kernel.ioctl(device2.get(), kMshvCreatePartition, &v2));
  ASSERT_TRUE(partition.valid());
  EXPECT_EQ(new_kernel.partition_creation()->pt_cpu_fbanks[1], 0x42u);
}

TEST_F(FakeMshvDriverTest, UnknownRequestsAndForeignOrClosedFds) {
  EXPECT_EQ(fake_.ioctl(partition_.get(), kMshvRunVp, nullptr), -ENOTTY);  // a VP ioctl
  EXPECT_EQ(fake_.ioctl(device_.get(), kMshvCreateVp, nullptr), -ENOTTY);
  auto event = EventFd::create();
  ASSERT_TRUE(event);
  EXPECT_EQ(fake_.ioctl(event->fd(), kMshvCreatePartition, nullptr), -ENOTTY);
  const int closed = ::dup(partition_.get());
  ::close(closed);
  EXPECT_EQ(fake_.ioctl(closed, kMshvInitializePartition, nullptr), -EBADF);
  MshvCreateDevice vfio{};
  EXPECT_EQ(fake_.ioctl(partition_.get(), kMshvCreateDevice, &vfio), -ENOTTY) << "not upstream";
}

TEST_F(FakeMshvDriverTest, CreateVpLimitsAndDuplicates) {
  MshvCreateVp vp{kMshvMaxVps};
  EXPECT_EQ(fake_.ioctl(partition_.get(), kMshvCreateVp, &vp), -EINVAL);
  vp.vp_index = 3;
  UniqueFd fd(fake_.ioctl(partition_.get(), kMshvCreateVp, &vp));
  ASSERT_TRUE(fd.valid());
  EXPECT_EQ(fake_.ioctl(partition_.get(), kMshvCreateVp, &vp), -EEXIST);
}

TEST_F(FakeMshvDriverTest, GuestMemoryRules) {
  auto memory = Mapping::anonymous(4 * kHvPageSize);
  ASSERT_TRUE(memory);
  const auto host = reinterpret_cast<uint64_t>(memory->data());
  auto set = [&](uint64_t size, uint64_t gpa, uint64_t uaddr, uint8_t flags) {
    MshvUserMemRegion r{size, gpa / kHvPageSize, uaddr, flags, {}};
    return fake_.ioctl(partition_.get(), kMshvSetGuestMemory, &r);
  };
  EXPECT_EQ(set(0, 0, host, kMemWritable), -EINVAL);
  EXPECT_EQ(set(100, 0, host, kMemWritable), -EINVAL);
  EXPECT_EQ(set(kHvPageSize, 0, host + 8, kMemWritable), -EINVAL);
  EXPECT_EQ(set(kHvPageSize, 0, host, 0x8), -EINVAL);
  EXPECT_EQ(set(kHvPageSize, 0, 0x1000, kMemWritable), -EINVAL) << "no mapping at that address";
  ASSERT_EQ(set(2 * kHvPageSize, 0x10000, host, kMemWritable), 0);
  EXPECT_EQ(set(kHvPageSize, 0x11000, host + 2 * kHvPageSize, 0), -EEXIST) << "GPA overlap";
  EXPECT_EQ(set(kHvPageSize, 0x40000, host + kHvPageSize, 0), -EEXIST) << "host overlap";
  EXPECT_EQ(set(kHvPageSize, 0x10000, host, kMemUnmap), -EINVAL) << "unmap must match exactly";
  EXPECT_EQ(set(2 * kHvPageSize, 0x10000, host + kHvPageSize, kMemUnmap), -EINVAL);
  EXPECT_EQ(set(2 * kHvPageSize, 0x10000, host, kMemUnmap), 0);
  EXPECT_TRUE(fake_.regions().empty());
}

TEST_F(FakeMshvDriverTest, RoutingTableIsReplacedWholeAndChecked) {
  EXPECT_EQ(set_routes({msi(30, 0x40), msi(31, 0x41)}), 0);
  EXPECT_EQ(fake_.routes().size(), 2u);
  EXPECT_EQ(set_routes({msi(32, 0x42)}), 0);
  EXPECT_THAT(fake_.routes(), ::testing::SizeIs(1)) << "the new table replaces the old one";
  EXPECT_EQ(set_routes({msi(33, 1), msi(33, 2)}), -EINVAL) << "duplicate GSI";
  EXPECT_EQ(set_routes({msi(4096, 1)}), -EINVAL);
  auto high = msi(40, 1);
  high.address_hi = 1;
  EXPECT_EQ(set_routes({high}), -EINVAL);
  EXPECT_EQ(set_routes({msi(40, 1)}, 1), -EINVAL) << "rsvd must be 0";
  EXPECT_EQ(fake_.routes().count(32), 1u) << "a refused table changes nothing";
  EXPECT_EQ(set_routes({}), 0);
  EXPECT_TRUE(fake_.routes().empty()) << "nr = 0 clears the table";
}

TEST_F(FakeMshvDriverTest, IoeventfdRules) {
  auto a = EventFd::create();
  auto b = EventFd::create();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(ioeventfd(a->fd(), 0x3f8, 1, kIoeventfdPio), -EOPNOTSUPP);
  EXPECT_EQ(ioeventfd(a->fd(), 0x1000, 3, 0), -EINVAL);
  EXPECT_EQ(ioeventfd(a->fd(), ~0ull - 2, 8, 0), -EINVAL) << "wraps";
  EXPECT_EQ(ioeventfd(a->fd(), 0x1000, 4, 1u << 3), -EINVAL);
  ASSERT_EQ(ioeventfd(a->fd(), 0x1000, 4, kIoeventfdDatamatch, 7), 0);
  EXPECT_EQ(ioeventfd(b->fd(), 0x1000, 4, kIoeventfdDatamatch, 7), -EEXIST);
  EXPECT_EQ(ioeventfd(b->fd(), 0x1000, 4, 0), -EEXIST) << "a wildcard collides with any datamatch";
  EXPECT_EQ(ioeventfd(b->fd(), 0x1000, 4, kIoeventfdDatamatch, 8), 0);
  EXPECT_EQ(ioeventfd(b->fd(), 0x1000, 4, kIoeventfdDeassign), -ENOENT) << "wildcard vs datamatch";
  EXPECT_EQ(ioeventfd(b->fd(), 0x1000, 2, kIoeventfdDatamatch | kIoeventfdDeassign, 8), -ENOENT);
  EXPECT_EQ(ioeventfd(b->fd(), 0x1000, 4, kIoeventfdDatamatch | kIoeventfdDeassign, 8), 0);
  EXPECT_EQ(fake_.ioeventfd_count(), 1u);
}

TEST_F(FakeMshvDriverTest, HypercallArgumentChecks) {
  HvInputSetPartitionProperty in{};
  in.property_code = kHvPropertyTimeFreeze;
  in.property_value = 1;
  auto args = [&] {
    MshvRootHvcall a{};
    a.code = kHvCallSetPartitionProperty;
    a.in_sz = sizeof in;
    a.in_ptr = reinterpret_cast<uint64_t>(&in);
    return a;
  };
  MshvRootHvcall a = args();
  a.status = 1;
  EXPECT_EQ(hypercall(partition_.get(), a), -EINVAL);
  a = args();
  a.in_sz = 4;
  EXPECT_EQ(hypercall(partition_.get(), a), -EINVAL);
  a = args();
  a.in_sz = 4097;
  EXPECT_EQ(hypercall(partition_.get(), a), -EINVAL);
  a = args();
  a.rsvd[3] = 1;
  EXPECT_EQ(hypercall(partition_.get(), a), -EINVAL);
  a = args();
  uint64_t out = 0;
  a.out_ptr = reinterpret_cast<uint64_t>(&out);
  EXPECT_EQ(hypercall(partition_.get(), a), -EINVAL) << "out_ptr without out_sz";
  a = args();
  a.code = 0x0002;  // not passed through
  EXPECT_EQ(hypercall(partition_.get(), a), -EINVAL);
  MshvCreateVp vp{0};
  UniqueFd vp_fd(fake_.ioctl(partition_.get(), kMshvCreateVp, &vp));
  a = args();
  EXPECT_EQ(hypercall(vp_fd.get(), a), -EINVAL) << "asynchronous: partition fd only";
  a = args();
  EXPECT_EQ(hypercall(partition_.get(), a), 0);
  EXPECT_EQ(a.status, kHvStatusSuccess);
  in.property_value = 2;
  a = args();
  EXPECT_EQ(hypercall(partition_.get(), a), -EIO);
  EXPECT_EQ(a.status, kHvStatusPropertyValueOutOfRange);
  in.property_code = kHvPropertySyntheticProcFeatures;
  a = args();
  EXPECT_EQ(hypercall(partition_.get(), a), -EIO) << "an early property, after initialization";
  EXPECT_EQ(a.status, kHvStatusInvalidPartitionState);
}

TEST_F(FakeMshvDriverTest, RegistersByHypercallCheckNamesAndVp) {
  MshvCreateVp vp{1};
  UniqueFd vp_fd(fake_.ioctl(partition_.get(), kMshvCreateVp, &vp));
  struct {
    HvInputGetVpRegisters header{};
    uint32_t names[2] = {kHvRegRip, 0x12345678};
  } in;
  in.header.vp_index = 1;
  HvRegisterValue out[2]{};
  MshvRootHvcall a{};
  a.code = kHvCallGetVpRegisters;
  a.reps = 2;
  a.in_sz = sizeof in;
  a.out_sz = sizeof out;
  a.in_ptr = reinterpret_cast<uint64_t>(&in);
  a.out_ptr = reinterpret_cast<uint64_t>(out);
  EXPECT_EQ(hypercall(vp_fd.get(), a), -EINVAL);
  EXPECT_EQ(a.status, kHvStatusInvalidParameter);
  EXPECT_EQ(a.reps, 1) << "one rep completed before the unknown name";
  EXPECT_EQ(out[0].low, 0xfff0u) << "the reset RIP";
  in.header.vp_index = 7;
  a.status = 0;
  a.reps = 2;
  EXPECT_EQ(hypercall(vp_fd.get(), a), -EINVAL);
  EXPECT_EQ(a.status, kHvStatusInvalidVpIndex);
}

TEST_F(FakeMshvDriverTest, VpStateBufferRules) {
  MshvCreateVp vp{0};
  UniqueFd vp_fd(fake_.ioctl(partition_.get(), kMshvCreateVp, &vp));
  auto page = Mapping::anonymous(2 * kHvPageSize);
  ASSERT_TRUE(page);
  MshvGetSetVpState s{};
  s.type = kVpStateLapic;
  s.buf_sz = kHvPageSize;
  s.buf_ptr = reinterpret_cast<uint64_t>(page->data()) + 8;
  EXPECT_EQ(fake_.ioctl(vp_fd.get(), kMshvGetVpState, &s), -EINVAL) << "unaligned buffer";
  s.buf_ptr -= 8;
  s.buf_sz = 100;
  EXPECT_EQ(fake_.ioctl(vp_fd.get(), kMshvGetVpState, &s), -EINVAL);
  s.buf_sz = kHvPageSize;
  s.type = 9;
  EXPECT_EQ(fake_.ioctl(vp_fd.get(), kMshvGetVpState, &s), -EINVAL);
  s.type = kVpStateLapic;
  ASSERT_EQ(fake_.ioctl(vp_fd.get(), kMshvGetVpState, &s), 0);
  HvLapicState lapic;
  std::memcpy(&lapic, page->data(), sizeof lapic);
  EXPECT_EQ(lapic.apic_id, 0u);
}

TEST_F(FakeMshvDriverTest, OlderDriverEagainOnInsufficientMemory) {
  FakeMshvOptions options;
  options.insufficient_memory_hypercalls = 1;
  FakeMshvDriver fake(options);
  UniqueFd device(fake.open_device("/dev/mshv"));
  MshvCreatePartition create{kPtLapic, 0};
  UniqueFd partition(fake.ioctl(device.get(), kMshvCreatePartition, &create));
  HvInputSetPartitionProperty in{};
  in.property_code = kHvPropertySyntheticProcFeatures;
  MshvRootHvcall a{};
  a.code = kHvCallSetPartitionProperty;
  a.in_sz = sizeof in;
  a.in_ptr = reinterpret_cast<uint64_t>(&in);
  EXPECT_EQ(fake.ioctl(partition.get(), kMshvRootHvcall, &a), -EAGAIN);
  EXPECT_EQ(a.status, kHvStatusInsufficientMemory);
  a.status = 0;
  EXPECT_EQ(fake.ioctl(partition.get(), kMshvRootHvcall, &a), 0);
}

TEST_F(FakeMshvDriverTest, LogsEveryCall) {
  MshvCreateVp vp{0};
  UniqueFd vp_fd(fake_.ioctl(partition_.get(), kMshvCreateVp, &vp));
  EXPECT_THAT(fake_.call_names(),
              ElementsAre("MSHV_CREATE_PARTITION", "MSHV_INITIALIZE_PARTITION", "MSHV_CREATE_VP"));
}

}  // namespace
}  // namespace ferry::test

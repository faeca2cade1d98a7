// Assignment when a VFIO step fails: the error names the step (and the device where there is
// one), and nothing is left behind: no group open, in the container or on the hypervisor's
// bridge, no DMA mapping, and once the Assignment goes, no fd of the fake at all.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_vfio.h"
#include "fake_vfio_guest.h"
#include "fake_vfio_recording_vm.h"
#include "ferry/base/units.h"
#include "ferry/vfio/assignment.h"

namespace ferry::test {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Failure {
  FakeVfioStep step;
  std::vector<std::string> message;  // what the error must say
};

// The step, for gtest's names and messages (the default would print the struct's bytes).
void PrintTo(const Failure& failure, std::ostream* os) {
  *os << "step " << static_cast<int>(failure.step);
}

class AssignmentFailureTest : public ::testing::TestWithParam<Failure> {};

TEST_P(AssignmentFailureTest, NamesTheStepAndLeavesNothingBehind) {
  FakeJournal journal;
  RecordingVm vm(journal);
  FakeVfioOptions options = journaling([&](std::string e) { journal.add(std::move(e)); });
  options.fail_at = GetParam().step;
  FakeVfio vfio(options);
  irq::MsiRouteTable routes(vm);
  bus::Bus mmio("mmio"), pio("port");
  auto ram = Mapping::anonymous(64 * kKiB);
  ASSERT_TRUE(ram);
  const std::vector<vfio::GuestRam> guest_ram{{.gpa = 0, .size = ram->size(), .host = ram->data()}};
  std::string message;
  {
    auto assignment = vfio::Assignment::create(vm, guest_ram, vfio);
    if (!assignment) {
      message = assignment.error().message();
    } else {
      auto device = (*assignment)->assign("0000:01:00.0", 12, routes, {mmio, pio, kTestWindows});
      ASSERT_FALSE(device) << "the fake was to fail a step";
      message = device.error().message();
      // The Assignment lives on as it was before the call: only its container is open.
      EXPECT_EQ(vfio.open_fds(), 1u) << journal.dump();
      EXPECT_THAT(vfio.dma_maps(), IsEmpty()) << journal.dump();
      EXPECT_THAT(vm.bridged(), IsEmpty()) << journal.dump();
      EXPECT_FALSE(vfio.device_open());
    }
  }
  for (const std::string& part : GetParam().message) EXPECT_THAT(message, HasSubstr(part));
  EXPECT_EQ(vfio.open_fds(), 0u) << journal.dump();
  EXPECT_THAT(vfio.dma_maps(), IsEmpty());
  EXPECT_THAT(vm.bridged(), IsEmpty());
  EXPECT_THAT(vfio.rule_violations(), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(
    EachStep, AssignmentFailureTest,
    ::testing::Values(
        Failure{FakeVfioStep::kOpenContainer, {"/dev/vfio/vfio"}},
        Failure{FakeVfioStep::kSetContainer, {"VFIO_GROUP_SET_CONTAINER", "IOMMU group 12"}},
        Failure{FakeVfioStep::kSetIommu, {"VFIO_SET_IOMMU", "IOMMU group 12"}},
        Failure{FakeVfioStep::kMapDma, {"VFIO_IOMMU_MAP_DMA", "IOMMU group 12"}},
        Failure{FakeVfioStep::kGetDeviceFd, {"VFIO_GROUP_GET_DEVICE_FD(0000:01:00.0)"}},
        Failure{FakeVfioStep::kRegionInfo, {"VFIO_DEVICE_GET_REGION_INFO", "0000:01:00.0"}},
        Failure{FakeVfioStep::kMmap, {"mmap", "0000:01:00.0", "BAR 0"}}),
    [](const ::testing::TestParamInfo<Failure>& param_info) {
      switch (param_info.param.step) {
        case FakeVfioStep::kOpenContainer:
          return std::string("OpenContainer");
        case FakeVfioStep::kSetContainer:
          return std::string("SetContainer");
        case FakeVfioStep::kSetIommu:
          return std::string("SetIommu");
        case FakeVfioStep::kMapDma:
          return std::string("MapDma");
        case FakeVfioStep::kGetDeviceFd:
          return std::string("GetDeviceFd");
        case FakeVfioStep::kRegionInfo:
          return std::string("RegionInfo");
        case FakeVfioStep::kMmap:
          return std::string("Mmap");
        case FakeVfioStep::kNone:
        case FakeVfioStep::kOpenIommufd:  // the iommufd path's (assignment_iommufd_test.cc)
        case FakeVfioStep::kIoasAlloc:
        case FakeVfioStep::kOpenCdev:
        case FakeVfioStep::kBind:
        case FakeVfioStep::kAttach:
        case FakeVfioStep::kIoasMap:
          break;
      }
      return std::string("None");
    });

// Before the fix a failed assign left its group open and in the container with part of the DMA
// mappings, so a second try found the group "taken", skipped the mappings and the bridge, and
// handed out a device that could neither DMA nor be bridged.
TEST(AssignmentRetryTest, AnAssignAfterAFailedOneMapsDmaAndBridgesTheGroupAfresh) {
  FakeJournal journal;
  RecordingVm vm(journal);
  FakeVfioOptions options = journaling([&](std::string e) { journal.add(std::move(e)); });
  options.fail_at = FakeVfioStep::kGetDeviceFd;  // once
  FakeVfio vfio(options);
  irq::MsiRouteTable routes(vm);
  bus::Bus mmio("mmio"), pio("port");
  auto ram = Mapping::anonymous(64 * kKiB);
  ASSERT_TRUE(ram);
  auto assignment =
      vfio::Assignment::create(vm, {{.gpa = 0, .size = ram->size(), .host = ram->data()}}, vfio);
  ASSERT_TRUE(assignment) << assignment.error().message();
  ASSERT_FALSE((*assignment)->assign("0000:01:00.0", 12, routes, {mmio, pio, kTestWindows}));
  auto device = (*assignment)->assign("0000:01:00.0", 12, routes, {mmio, pio, kTestWindows});
  ASSERT_TRUE(device) << device.error().message() << "\n" << journal.dump();
  EXPECT_EQ(vfio.dma_maps().size(), 1u);
  EXPECT_EQ(vm.bridged().size(), 1u);
  EXPECT_EQ(journal.count("VFIO SET_IOMMU"), 2u) << journal.dump();
  device->reset();
  assignment->reset();
  EXPECT_EQ(vfio.open_fds(), 0u);
  EXPECT_THAT(vfio.rule_violations(), IsEmpty());
}

TEST(AssignmentBusyTest, AGroupAnotherVmHoldsFailsAsBusyAndLeavesOnlyTheContainer) {
  FakeJournal journal;
  RecordingVm vm(journal);
  FakeVfio vfio;
  vfio.hold_group_elsewhere(true);
  irq::MsiRouteTable routes(vm);
  bus::Bus mmio("mmio"), pio("port");
  auto assignment = vfio::Assignment::create(vm, {}, vfio);
  ASSERT_TRUE(assignment) << assignment.error().message();
  auto device = (*assignment)->assign("0000:01:00.0", 12, routes, {mmio, pio, kTestWindows});
  ASSERT_FALSE(device);
  EXPECT_EQ(device.error().code(), Errc::kBusy);
  EXPECT_THAT(device.error().message(), HasSubstr("busy"));
  EXPECT_EQ(vfio.open_fds(), 1u);
}

}  // namespace
}  // namespace ferry::test

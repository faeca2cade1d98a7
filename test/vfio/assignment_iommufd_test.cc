// Assignment on the iommufd path (Backend::kIommufd) over the fake's /dev/iommu and device cdev:
// the order (IOAS, cdev, the hypervisor's bridge, bind, attach, DMA map, reset), the teardown
// (device closed, off the bridge, unmapped, IOAS destroyed, iommufd closed), the cleanup after a
// failure at each step, a kernel without iommufd, and the bus reset by iommufd ownership.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_vfio.h"
#include "fake_vfio_guest.h"
#include "fake_vfio_recording_vm.h"
#include "ferry/base/units.h"
#include "ferry/vfio/assignment.h"

namespace ferry::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const vfio::HostDeviceRef kNvme{
    .bdf = "0000:01:00.0", .group = 12, .cdev = "/dev/vfio/devices/vfio0"};

// Each entry of `order` after the one before, from `from` on.
void expect_in_order(const FakeJournal& journal, const std::vector<std::string>& order,
                     int from = 0) {
  int previous = from - 1;
  for (const std::string& step : order) {
    const int now = journal.find(step, from);
    EXPECT_GT(now, previous) << step << " is missing or out of order:\n" << journal.dump(from);
    previous = now;
  }
}

struct IommufdRig {
  explicit IommufdRig(FakeVfioOptions options)
      : vfio([&] {
          options.journal = [this](std::string e) { journal.add(std::move(e)); };
          return options;
        }()) {
    auto mapping = Mapping::anonymous(64 * kKiB);
    EXPECT_TRUE(mapping);
    ram = std::move(*mapping);
  }
  Expected<std::unique_ptr<vfio::Assignment>> create() {
    return vfio::Assignment::create(vm, {{.gpa = 0, .size = ram.size(), .host = ram.data()}}, vfio,
                                    vfio::Backend::kIommufd);
  }

  FakeJournal journal;
  RecordingVm vm{journal};
  FakeVfio vfio;
  irq::MsiRouteTable routes{vm};
  bus::Bus mmio{"mmio"}, pio{"port"};
  Mapping ram;
};

TEST(AssignmentIommufdTest, BindsAttachesMapsThenTearsDownInTheKernelsOrder) {
  IommufdRig s{FakeVfioOptions{}};
  auto assignment = s.create();
  ASSERT_TRUE(assignment) << assignment.error().message();
  EXPECT_EQ((*assignment)->backend(), vfio::Backend::kIommufd);
  auto device = (*assignment)->assign(kNvme, s.routes, {s.mmio, s.pio, kTestWindows});
  ASSERT_TRUE(device) << device.error().message() << "\n" << s.journal.dump();
  expect_in_order(s.journal,
                  {"IOMMUFD open", "IOMMUFD IOAS_ALLOC 1", "VFIO open cdev /dev/vfio/devices/vfio0",
                   "KVM VFIO FILE_ADD", "VFIO BIND_IOMMUFD", "VFIO ATTACH_IOMMUFD_PT 1",
                   "IOMMUFD IOAS_MAP 0x0+0x10000", "VFIO DEVICE_RESET"});
  // No legacy file is touched on this path.
  EXPECT_EQ(s.journal.find("VFIO open container"), -1) << s.journal.dump();
  EXPECT_EQ(s.journal.find("VFIO open group"), -1) << s.journal.dump();
  ASSERT_EQ(s.vfio.dma_maps().size(), 1u);
  EXPECT_EQ(s.vfio.dma_maps()[0].vaddr, reinterpret_cast<uint64_t>(s.ram.data()));
  EXPECT_EQ(s.vm.bridged().size(), 1u);

  const int released = static_cast<int>(s.journal.size());
  device->reset();
  assignment->reset();
  expect_in_order(s.journal,
                  {"VFIO DEVICE_RESET", "close VFIO device", "KVM VFIO FILE_DEL",
                   "IOMMUFD IOAS_UNMAP 0x0+0x10000", "IOMMUFD DESTROY 1", "close IOMMUFD"},
                  released);
  EXPECT_EQ(s.vfio.open_fds(), 0u) << s.journal.dump();
  EXPECT_THAT(s.vfio.dma_maps(), IsEmpty());
  EXPECT_THAT(s.vm.bridged(), IsEmpty());
  EXPECT_THAT(s.vfio.rule_violations(), IsEmpty());
}

struct Failure {
  FakeVfioStep step;
  std::vector<std::string> message;  // what the error must say
  const char* name;
};

void PrintTo(const Failure& failure, std::ostream* os) { *os << failure.name; }

class AssignmentIommufdFailureTest : public ::testing::TestWithParam<Failure> {};

TEST_P(AssignmentIommufdFailureTest, NamesTheStepAndLeavesNothingBehind) {
  FakeVfioOptions options;
  options.fail_at = GetParam().step;
  IommufdRig s{options};
  std::string message;
  {
    auto assignment = s.create();
    if (!assignment) {
      message = assignment.error().message();
    } else {
      auto device = (*assignment)->assign(kNvme, s.routes, {s.mmio, s.pio, kTestWindows});
      ASSERT_FALSE(device) << "the fake was to fail a step";
      message = device.error().message();
      // The Assignment lives on as before the call: only the iommufd is open.
      EXPECT_EQ(s.vfio.open_fds(), 1u) << s.journal.dump();
      EXPECT_THAT(s.vfio.dma_maps(), IsEmpty()) << s.journal.dump();
      EXPECT_THAT(s.vm.bridged(), IsEmpty()) << s.journal.dump();
      EXPECT_FALSE(s.vfio.device_open());
      // And a second try works from there.
      auto again = (*assignment)->assign(kNvme, s.routes, {s.mmio, s.pio, kTestWindows});
      ASSERT_TRUE(again) << again.error().message() << "\n" << s.journal.dump();
      EXPECT_EQ(s.vfio.dma_maps().size(), 1u);
      EXPECT_EQ(s.vm.bridged().size(), 1u);
      again->reset();
    }
  }
  for (const std::string& part : GetParam().message) EXPECT_THAT(message, HasSubstr(part));
  EXPECT_EQ(s.vfio.open_fds(), 0u) << s.journal.dump();
  EXPECT_THAT(s.vfio.dma_maps(), IsEmpty());
  EXPECT_THAT(s.vm.bridged(), IsEmpty());
  EXPECT_THAT(s.vfio.rule_violations(), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(
    EachStep, AssignmentIommufdFailureTest,
    ::testing::Values(
        Failure{FakeVfioStep::kOpenIommufd, {"/dev/iommu"}, "OpenIommufd"},
        Failure{FakeVfioStep::kIoasAlloc, {"IOMMU_IOAS_ALLOC"}, "IoasAlloc"},
        Failure{FakeVfioStep::kOpenCdev, {"/dev/vfio/devices/vfio0", "0000:01:00.0"}, "OpenCdev"},
        Failure{FakeVfioStep::kBind, {"VFIO_DEVICE_BIND_IOMMUFD", "0000:01:00.0"}, "Bind"},
        Failure{FakeVfioStep::kAttach, {"VFIO_DEVICE_ATTACH_IOMMUFD_PT", "0000:01:00.0"}, "Attach"},
        Failure{FakeVfioStep::kIoasMap, {"IOMMU_IOAS_MAP"}, "IoasMap"},
        Failure{FakeVfioStep::kRegionInfo, {"VFIO_DEVICE_GET_REGION_INFO"}, "RegionInfo"},
        Failure{FakeVfioStep::kMmap, {"mmap", "BAR 0"}, "Mmap"}),
    [](const ::testing::TestParamInfo<Failure>& param_info) {
      return std::string(param_info.param.name);
    });

TEST(AssignmentIommufdTest, ADeviceAnotherProcessHoldsFailsAtTheBindAndLeavesOnlyTheIommufd) {
  IommufdRig s{FakeVfioOptions{}};
  s.vfio.hold_group_elsewhere(true);
  auto assignment = s.create();
  ASSERT_TRUE(assignment) << assignment.error().message();
  auto device = (*assignment)->assign(kNvme, s.routes, {s.mmio, s.pio, kTestWindows});
  ASSERT_FALSE(device);
  EXPECT_THAT(device.error().message(),
              AllOf(HasSubstr("VFIO_DEVICE_BIND_IOMMUFD"), HasSubstr("another process")));
  EXPECT_EQ(s.vfio.open_fds(), 1u) << s.journal.dump();
  EXPECT_THAT(s.vm.bridged(), IsEmpty());
}

TEST(AssignmentIommufdTest, AKernelWithoutIommufdIsRefusedNamingTheLegacyPath) {
  FakeVfioOptions options;
  options.iommufd = false;
  IommufdRig s{options};
  auto assignment = s.create();
  ASSERT_FALSE(assignment);
  EXPECT_EQ(assignment.error().code(), Errc::kUnsupported);
  EXPECT_THAT(assignment.error().message(), HasSubstr("/dev/iommu"));
  EXPECT_THAT(assignment.error().message(), HasSubstr("vfio.backend: legacy"));
  EXPECT_EQ(s.vfio.open_fds(), 0u);
}

TEST(AssignmentIommufdTest, WithoutFlrTheBusIsResetWithNoGroupFdsWhenTheIommufdOwnsIt) {
  FakeVfioOptions options;
  options.flr = false;
  IommufdRig s{options};
  auto assignment = s.create();
  ASSERT_TRUE(assignment) << assignment.error().message();
  auto device = (*assignment)->assign(kNvme, s.routes, {s.mmio, s.pio, kTestWindows});
  ASSERT_TRUE(device) << device.error().message() << "\n" << s.journal.dump();
  EXPECT_EQ(s.journal.count("VFIO PCI_HOT_RESET by device id"), 1u) << s.journal.dump();
  device->reset();
  assignment->reset();
  EXPECT_EQ(s.journal.count("VFIO PCI_HOT_RESET by device id"), 2u) << s.journal.dump();
  EXPECT_EQ(s.vfio.open_fds(), 0u);
}

TEST(AssignmentIommufdTest, ABusSharedWithADeviceNotHeldIsNotReset) {
  FakeVfioOptions options;
  options.flr = false;
  options.bus_shared_with_group = 13;
  IommufdRig s{options};
  auto assignment = s.create();
  ASSERT_TRUE(assignment) << assignment.error().message();
  auto device = (*assignment)->assign(kNvme, s.routes, {s.mmio, s.pio, kTestWindows});
  ASSERT_TRUE(device) << device.error().message() << "\n" << s.journal.dump();
  EXPECT_EQ(s.journal.find("VFIO PCI_HOT_RESET"), -1) << s.journal.dump();
  device->reset();
  assignment->reset();
  EXPECT_EQ(s.journal.find("VFIO PCI_HOT_RESET"), -1) << s.journal.dump();
  EXPECT_EQ(s.vfio.open_fds(), 0u);
}

}  // namespace
}  // namespace ferry::test

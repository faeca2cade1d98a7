// vfio.p2p over the fake VFIO: the mapped part of BAR 0 (the fake NVMe's first 8 KiB; the
// MSI-X table and PBA pages stay trapped) is DMA-mapped at the BAR's guest address while the
// guest decodes it, follows moves and decode off/on, leaves before the device's reset at exit,
// survives addresses the IOMMU refuses, and the start's probe fails on iommufd (which cannot
// map a BAR) with the fix, leaving nothing behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_vfio.h"
#include "fake_vfio_guest.h"
#include "fake_vfio_recording_vm.h"
#include "ferry/base/units.h"
#include "ferry/pci/config_regs.h"
#include "ferry/vfio/assignment.h"

namespace ferry::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr uint64_t kBar0 = FakeLinuxGuest::kBar0;
constexpr uint64_t kMapped = 0x2000;  // BAR 0's part before the MSI-X table page
// A second run of guest RAM inside the 32-bit window, so that a BAR moved there meets it.
constexpr uint64_t kHighRam = 0xd0000000;

struct P2pRig {
  P2pRig(vfio::Backend backend, bool p2p, FakeVfioOptions options = {})
      : vfio([&] {
          options.journal = [this](std::string e) { journal.add(std::move(e)); };
          return options;
        }()) {
    auto low = Mapping::anonymous(64 * kKiB);
    auto high = Mapping::anonymous(64 * kKiB);
    EXPECT_TRUE(low && high);
    ram = std::move(*low);
    high_ram = std::move(*high);
    auto created = vfio::Assignment::create(
        vm,
        {{.gpa = 0, .size = ram.size(), .host = ram.data()},
         {.gpa = kHighRam, .size = high_ram.size(), .host = high_ram.data()}},
        vfio, backend, {}, p2p);
    EXPECT_TRUE(created) << created.error().message();
    if (!created) return;
    assignment = std::move(*created);
    auto assigned =
        assignment->assign({.bdf = "0000:01:00.0", .group = 12, .cdev = "/dev/vfio/devices/vfio0"},
                           routes, {mmio, pio, kTestWindows});
    EXPECT_TRUE(assigned) << assigned.error().message() << "\n" << journal.dump();
    if (assigned) device = std::move(*assigned);
  }
  // The firmware's placement (RootComplex::assign_bars): BAR 0 written, decoding still off.
  void place_bar0(uint64_t at) const { device->config_write(pci::kBar0, 4, uint32_t(at)); }
  void decode(bool on) const {
    device->config_write(pci::kCommand, 2, on ? pci::kCommandMemory : 0);
  }
  // The DMA maps other than guest RAM's.
  std::vector<FakeVfio::DmaMap> bar_dma() const {
    std::vector<FakeVfio::DmaMap> out;
    for (const auto& m : vfio.dma_maps()) {
      if (m.vaddr != reinterpret_cast<uint64_t>(ram.data()) &&
          m.vaddr != reinterpret_cast<uint64_t>(high_ram.data())) {
        out.push_back(m);
      }
    }
    return out;
  }
  // BAR 0's mapped piece is what the DMA map at `iova` points at.
  void expect_bar0_at(uint64_t iova) const {
    const auto maps = bar_dma();
    ASSERT_EQ(maps.size(), 1u) << journal.dump();
    EXPECT_EQ(maps[0].iova, iova);
    EXPECT_EQ(maps[0].size, kMapped);
    ASSERT_FALSE(vfio.bar_maps().empty());
    EXPECT_EQ(maps[0].vaddr, reinterpret_cast<uint64_t>(vfio.bar_maps().front().first));
  }

  FakeJournal journal;
  RecordingVm vm{journal};
  FakeVfio vfio;
  irq::MsiRouteTable routes{vm};
  bus::Bus mmio{"mmio"}, pio{"port"};
  Mapping ram, high_ram;
  std::unique_ptr<vfio::Assignment> assignment;
  std::shared_ptr<vfio::AssignedDevice> device;
};

TEST(AssignmentP2pTest, LegacyMapsTheBarAtItsGuestAddressWhileDecodedAndFollowsIt) {
  P2pRig s(vfio::Backend::kLegacy, true);
  ASSERT_TRUE(s.device);
  s.place_bar0(kBar0);
  ASSERT_TRUE(s.assignment->probe_p2p());
  EXPECT_THAT(s.bar_dma(), IsEmpty()) << "decoding is off: the probe leaves nothing mapped";
  EXPECT_GE(s.journal.find(fmt::format("VFIO MAP_DMA {:#x}+0x1000", kBar0)), 0) << s.journal.dump();

  s.decode(true);
  s.expect_bar0_at(kBar0);
  // Moved while decoding: out of the old address, in at the new one.
  s.device->config_write(pci::kBar0, 4, 0xc1000000);
  s.expect_bar0_at(0xc1000000);
  s.decode(false);
  EXPECT_THAT(s.bar_dma(), IsEmpty()) << s.journal.dump();
  s.decode(true);
  s.expect_bar0_at(0xc1000000);

  // At exit: the BAR's DMA map goes before the device's reset, guest RAM's after it.
  const int exit = s.journal.size();
  s.device.reset();
  s.assignment.reset();
  const int bar_unmap =
      s.journal.find(fmt::format("VFIO UNMAP_DMA {:#x}+{:#x}", 0xc1000000, kMapped), exit);
  const int reset = s.journal.find("VFIO DEVICE_RESET", exit);
  const int ram_unmap = s.journal.find("VFIO UNMAP_DMA 0x0+", exit);
  EXPECT_GE(bar_unmap, 0) << s.journal.dump(exit);
  EXPECT_LT(bar_unmap, reset) << s.journal.dump(exit);
  EXPECT_LT(reset, ram_unmap) << s.journal.dump(exit);
  EXPECT_THAT(s.vfio.dma_maps(), IsEmpty());
  EXPECT_EQ(s.vfio.open_fds(), 0u);
  EXPECT_THAT(s.vfio.rule_violations(), IsEmpty());
}

TEST(AssignmentP2pTest, WithoutP2pNoBarIsEverMapped) {
  for (auto backend : {vfio::Backend::kLegacy, vfio::Backend::kIommufd}) {
    P2pRig s(backend, false);
    ASSERT_TRUE(s.device);
    s.place_bar0(kBar0);
    ASSERT_TRUE(s.assignment->probe_p2p());
    s.decode(true);
    s.device->config_write(pci::kBar0, 4, 0xc1000000);
    EXPECT_TRUE(s.vm.mapped(s.vfio.bar_maps().front().first)) << "the guest still has it";
    EXPECT_THAT(s.bar_dma(), IsEmpty()) << vfio::backend_name(backend) << "\n" << s.journal.dump();
  }
}

// The guest chooses the address: one the IOMMU refuses (past its IOVA ranges: EINVAL; over
// guest RAM: EEXIST) is a warning, not a crash and not a stale map; the next move maps again.
TEST(AssignmentP2pTest, AnAddressTheIommuRefusesLeavesTheBarUnmappedAndFerryGoesOn) {
  FakeVfioOptions options;
  options.iova_limit = 0xd8000000;
  P2pRig s(vfio::Backend::kLegacy, true, options);
  ASSERT_TRUE(s.device);
  s.place_bar0(kBar0);
  s.decode(true);
  s.expect_bar0_at(kBar0);
  s.device->config_write(pci::kBar0, 4, 0xd8000000);  // past the IOVA ranges
  EXPECT_THAT(s.bar_dma(), IsEmpty()) << s.journal.dump();
  EXPECT_TRUE(s.vm.mapped(s.vfio.bar_maps().front().first)) << "the guest still has it";
  s.device->config_write(pci::kBar0, 4, uint32_t(kHighRam));  // over guest RAM's IOVAs
  EXPECT_THAT(s.bar_dma(), IsEmpty()) << s.journal.dump();
  s.device->config_write(pci::kBar0, 4, 0xc2000000);
  s.expect_bar0_at(0xc2000000);
  s.device.reset();
  s.assignment.reset();
  EXPECT_THAT(s.vfio.dma_maps(), IsEmpty());
  EXPECT_THAT(s.vfio.rule_violations(), IsEmpty());
}

// iommufd pins what it maps, and a BAR's mmap has no pages to pin: the probe at start fails,
// naming the device, the BAR, the kernel's errno and the fix; the Assignment torn down (as a
// failed start does) leaves nothing mapped or open.
TEST(AssignmentP2pTest, OnIommufdTheProbeAtStartFailsWithTheFixAndLeavesNothing) {
  P2pRig s(vfio::Backend::kIommufd, true);
  ASSERT_TRUE(s.device);
  s.place_bar0(kBar0);
  auto probed = s.assignment->probe_p2p();
  ASSERT_FALSE(probed) << s.journal.dump();
  EXPECT_THAT(probed.error().message(),
              AllOf(HasSubstr("0000:01:00.0: BAR 0"), HasSubstr("IOVA 0xc0000000-0xc0000fff"),
                    HasSubstr("Bad address (errno 14)"), HasSubstr("vfio.backend: legacy"),
                    HasSubstr("vfio.p2p: false")));
  EXPECT_THAT(s.bar_dma(), IsEmpty());
  s.device.reset();
  s.assignment.reset();
  EXPECT_THAT(s.vfio.dma_maps(), IsEmpty()) << s.journal.dump();
  EXPECT_EQ(s.vfio.open_fds(), 0u) << s.journal.dump();
  EXPECT_THAT(s.vm.bridged(), IsEmpty());
  EXPECT_THAT(s.vfio.rule_violations(), IsEmpty());
}

// Should the guest turn decoding on anyway (a start that skipped the probe), iommufd's refusal
// at run time is a warning and nothing is left mapped.
TEST(AssignmentP2pTest, OnIommufdARefusedMapAtRunTimeLeavesNothingMapped) {
  P2pRig s(vfio::Backend::kIommufd, true);
  ASSERT_TRUE(s.device);
  s.place_bar0(kBar0);
  s.decode(true);
  EXPECT_THAT(s.bar_dma(), IsEmpty()) << s.journal.dump();
  EXPECT_TRUE(s.vm.mapped(s.vfio.bar_maps().front().first));
  s.device.reset();
  s.assignment.reset();
  EXPECT_THAT(s.vfio.dma_maps(), IsEmpty());
  EXPECT_EQ(s.vfio.open_fds(), 0u);
}

TEST(AssignmentP2pTest, TheFakeMapsABarOnLegacyButRefusesItOnIommufdAsTheKernelDoes) {
  // Legacy: the probe maps and unmaps the piece's first and last page at the placed address.
  P2pRig legacy(vfio::Backend::kLegacy, true);
  ASSERT_TRUE(legacy.device);
  legacy.place_bar0(kBar0);
  ASSERT_TRUE(legacy.assignment->probe_p2p());
  int previous = -1;
  for (const uint64_t page : {kBar0, kBar0 + kMapped - 0x1000}) {
    const int mapped = legacy.journal.find(fmt::format("VFIO MAP_DMA {:#x}+0x1000", page));
    const int unmapped = legacy.journal.find(fmt::format("VFIO UNMAP_DMA {:#x}+0x1000", page));
    EXPECT_GT(mapped, previous) << legacy.journal.dump();
    EXPECT_GT(unmapped, mapped) << legacy.journal.dump();
    previous = unmapped;
  }
  // iommufd: no IOAS_MAP of the BAR ever succeeds.
  P2pRig iommufd(vfio::Backend::kIommufd, true);
  ASSERT_TRUE(iommufd.device);
  iommufd.place_bar0(kBar0);
  EXPECT_FALSE(iommufd.assignment->probe_p2p());
  EXPECT_EQ(iommufd.journal.find(fmt::format("IOMMUFD IOAS_MAP {:#x}", kBar0)), -1)
      << iommufd.journal.dump();
}

}  // namespace
}  // namespace ferry::test

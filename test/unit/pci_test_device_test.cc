#include "ferry/pci/pci_test_device.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "ferry/base/units.h"
#include "ferry/guests/pcitest.h"
#include "ferry/pci/root_complex.h"
#include "support/mock_accel.h"

namespace ferry::pci {
namespace {

using test::MsiRouteIs;
using test::StrictMockVm;
using ::testing::_;
using ::testing::DoAll;
using ::testing::ElementsAre;
using ::testing::InSequence;
using ::testing::Return;
using ::testing::SaveArg;
using ::testing::StrictMock;

constexpr uint64_t kEcam = 0xe0000000;
constexpr unsigned kSlot = 2;

// The device on a root complex, driven the way a guest drives it: ECAM and BAR accesses.
class PciTestDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = RootComplex::create(
        mmio_, pio_,
        {.windows = {{0xc000, 0x4000}, {0xc0000000, 512 * kMiB}, {4 * kGiB, 60 * kGiB}},
         .ecam_base = kEcam,
         .ecam_size = kMiB,
         .excluded = {},
         .mmio64_end = {}});
    ASSERT_TRUE(root);
    root_ = std::move(*root);
    auto device = PciTestDevice::create(root_->bar_spaces(), routes_);
    ASSERT_TRUE(device);
    device_ = *device;
    ASSERT_TRUE(root_->add(device_, kSlot));
    regs_ = config(kBar0, 4) & ~0xfu;
    ports_ = static_cast<uint16_t>(config(kBar0 + 4, 4) & ~0x3u);
    msix_ = uint64_t{config(kBar0 + 12, 4)} << 32 | (config(kBar0 + 8, 4) & ~0xfu);
    // The MSI-X capability is the first one.
    msix_cap_ = static_cast<uint16_t>(config(kCapabilityPointer, 1));
    ASSERT_EQ(config(msix_cap_, 1), kCapMsix);
  }

  uint32_t config(uint16_t reg, unsigned size) {
    uint32_t value = 0;
    mmio_.read(kEcam + (kSlot << 15 | reg), {reinterpret_cast<uint8_t*>(&value), size});
    return value;
  }
  void set_config(uint16_t reg, unsigned size, uint32_t value) {
    mmio_.write(kEcam + (kSlot << 15 | reg), {reinterpret_cast<const uint8_t*>(&value), size});
  }
  uint64_t mem(uint64_t address, unsigned size = 4) {
    uint64_t value = 0;
    mmio_.read(address, {reinterpret_cast<uint8_t*>(&value), size});
    return value;
  }
  void set_mem(uint64_t address, uint64_t value, unsigned size = 4) {
    mmio_.write(address, {reinterpret_cast<const uint8_t*>(&value), size});
  }
  uint32_t port(uint16_t p) {
    uint32_t value = 0;
    pio_.read(p, {reinterpret_cast<uint8_t*>(&value), 4});
    return value;
  }
  void set_port(uint16_t p, uint32_t value) {
    pio_.write(p, {reinterpret_cast<const uint8_t*>(&value), 4});
  }
  void enable_msix(bool function_masked) {
    set_config(msix_cap_ + kMsixControl, 2,
               kMsixEnable | (function_masked ? kMsixFunctionMask : 0));
  }

  StrictMockVm vm_;
  irq::MsiRouteTable routes_{vm_};
  bus::Bus mmio_{"mmio"};
  bus::Bus pio_{"port"};
  std::unique_ptr<RootComplex> root_;
  std::shared_ptr<PciTestDevice> device_;
  uint64_t regs_ = 0, msix_ = 0;
  uint16_t ports_ = 0, msix_cap_ = 0;
};

TEST_F(PciTestDeviceTest, TheSameRegistersAnswerThroughMemoryAndPorts) {
  set_config(kCommand, 2, kCommandMemory | kCommandIo);
  EXPECT_EQ(mem(regs_ + FERRY_PCITEST_ID), FERRY_PCITEST_MAGIC);
  EXPECT_EQ(port(ports_ + FERRY_PCITEST_ID), FERRY_PCITEST_MAGIC);
  set_mem(regs_ + FERRY_PCITEST_SCRATCH, 0xcafe);
  EXPECT_EQ(port(ports_ + FERRY_PCITEST_SCRATCH), 0xcafeu);
  // Registers are dwords: other sizes and misaligned accesses read all ones and do nothing.
  EXPECT_EQ(mem(regs_ + FERRY_PCITEST_ID, 2), 0xffffu);
  EXPECT_EQ(mem(regs_ + FERRY_PCITEST_ID + 1, 4), 0xffffffffu);
  EXPECT_EQ(mem(regs_ + 0xffc), 0xffffffffu);
  set_mem(regs_ + FERRY_PCITEST_SCRATCH, 0x1, 2);
  EXPECT_EQ(mem(regs_ + FERRY_PCITEST_SCRATCH), 0xcafeu);
  // The ROM is off until enabled.
  const uint32_t rom = config(kRomBar, 4);
  EXPECT_EQ(mem(rom, 2), 0xffffu);
  set_config(kRomBar, 4, rom | kRomEnable);
  EXPECT_EQ(mem(rom, 2), 0xaa55u);
}

TEST_F(PciTestDeviceTest, CapabilitiesDescribeTheMsixTableAndPcie) {
  EXPECT_EQ(config(kStatus, 2) & kStatusCapabilityList, kStatusCapabilityList);
  EXPECT_EQ(config(msix_cap_ + kMsixControl, 2), FERRY_PCITEST_VECTORS - 1);
  EXPECT_EQ(config(msix_cap_ + kMsixTable, 4), FERRY_PCITEST_MSIX_TABLE | FERRY_PCITEST_MSIX_BAR);
  EXPECT_EQ(config(msix_cap_ + kMsixPba, 4), FERRY_PCITEST_MSIX_PBA | FERRY_PCITEST_MSIX_BAR);
  const uint16_t next = static_cast<uint16_t>(config(msix_cap_ + 1, 1));
  EXPECT_EQ(config(next, 1), kCapPcie);
  EXPECT_EQ(config(next + 1, 1), 0u);
}

TEST_F(PciTestDeviceTest, DoorbellsThatCannotSendAreCountedAsDropped) {
  set_config(kCommand, 2, kCommandMemory);
  set_mem(regs_ + FERRY_PCITEST_DOORBELL, 0);  // MSI-X disabled
  enable_msix(false);
  set_mem(regs_ + FERRY_PCITEST_DOORBELL, 0);  // bus mastering off
  set_config(kCommand, 2, kCommandMemory | kCommandBusMaster);
  set_mem(regs_ + FERRY_PCITEST_DOORBELL, FERRY_PCITEST_VECTORS);  // no such vector
  EXPECT_EQ(mem(regs_ + FERRY_PCITEST_DROPPED), 3u);
  EXPECT_EQ(mem(regs_ + FERRY_PCITEST_SENT), 0u);
}

TEST_F(PciTestDeviceTest, AGuestProgramsTheTableInTheHighBarAndTakesMaskedAndUnmaskedVectors) {
  set_config(kCommand, 2, kCommandMemory | kCommandIo | kCommandBusMaster);
  ASSERT_GE(msix_, 4 * kGiB);
  enable_msix(true);
  set_mem(msix_ + 0x00, 0xfee00000, 8);  // vector 0 -> 0x40
  set_mem(msix_ + 0x08, 0x40);
  set_mem(msix_ + 0x10, 0xfee00000, 8);  // vector 1 -> 0x41, stays masked
  set_mem(msix_ + 0x18, 0x41);
  set_mem(msix_ + 0x0c, 0);  // unmask vector 0
  EXPECT_EQ(mem(msix_ + 0x0c), 0u);
  EXPECT_EQ(mem(msix_ + 0x1c), 1u);

  // Function mask on: vector 0 goes pending.
  set_port(ports_ + FERRY_PCITEST_DOORBELL, 0);
  EXPECT_EQ(mem(msix_ + FERRY_PCITEST_MSIX_PBA, 8), 1u);
  int fd0 = -1;
  {
    InSequence order;
    EXPECT_CALL(vm_, set_msi_routes(ElementsAre(MsiRouteIs(24u, 0xfee00000u, 0x40u))))
        .WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(vm_, register_irqfd(_, 24u, std::optional<int>()))
        .WillOnce(DoAll(SaveArg<0>(&fd0), Return(Expected<void>{})));
  }
  enable_msix(false);  // clearing the function mask sends it
  EXPECT_EQ(mem(msix_ + FERRY_PCITEST_MSIX_PBA, 8), 0u);
  EXPECT_EQ(mem(regs_ + FERRY_PCITEST_SENT), 1u);

  set_mem(regs_ + FERRY_PCITEST_DOORBELL, 1);  // vector 1 is masked
  EXPECT_EQ(mem(msix_ + FERRY_PCITEST_MSIX_PBA, 8), 2u);
  EXPECT_EQ(mem(regs_ + FERRY_PCITEST_SENT), 1u);
  int fd1 = -1;
  {
    InSequence order;
    EXPECT_CALL(vm_, set_msi_routes(ElementsAre(MsiRouteIs(24u, 0xfee00000u, 0x40u),
                                                MsiRouteIs(25u, 0xfee00000u, 0x41u))))
        .WillOnce(Return(Expected<void>{}));
    EXPECT_CALL(vm_, register_irqfd(_, 25u, std::optional<int>()))
        .WillOnce(DoAll(SaveArg<0>(&fd1), Return(Expected<void>{})));
  }
  set_mem(msix_ + 0x1c, 0);
  EXPECT_EQ(mem(msix_ + FERRY_PCITEST_MSIX_PBA, 8), 0u);
  EXPECT_EQ(mem(regs_ + FERRY_PCITEST_SENT), 2u);
  set_mem(regs_ + FERRY_PCITEST_DOORBELL, 0);
  EXPECT_EQ(mem(regs_ + FERRY_PCITEST_SENT), 3u);
  uint64_t count = 0;
  ASSERT_EQ(::read(fd0, &count, sizeof count), 8);
  EXPECT_EQ(count, 2u);
  ASSERT_EQ(::read(fd1, &count, sizeof count), 8);
  EXPECT_EQ(count, 1u);
  // The PBA is read-only and the rest of the BAR is reserved.
  set_mem(msix_ + FERRY_PCITEST_MSIX_PBA, ~uint64_t{0}, 8);
  EXPECT_EQ(mem(msix_ + FERRY_PCITEST_MSIX_PBA, 8), 0u);
  EXPECT_EQ(mem(msix_ + 0x1000), 0u);

  InSequence order;  // teardown: both irqfds go, then one commit without their routes
  EXPECT_CALL(vm_, unregister_irqfd(fd0, 24u)).WillOnce(Return(Expected<void>{}));
  EXPECT_CALL(vm_, unregister_irqfd(fd1, 25u)).WillOnce(Return(Expected<void>{}));
  EXPECT_CALL(vm_, set_msi_routes(ElementsAre())).WillOnce(Return(Expected<void>{}));
}

TEST_F(PciTestDeviceTest, TheTableIsUnreachableWithoutMemoryDecode) {
  set_mem(msix_ + 0x08, 0x40);
  EXPECT_EQ(mem(msix_ + 0x08), 0xffffffffu);
  set_config(kCommand, 2, kCommandMemory);
  EXPECT_EQ(mem(msix_ + 0x08), 0u);
}

}  // namespace
}  // namespace ferry::pci

// The backend's userspace IOAPIC (MSHV has none in the kernel): redirection entries become MSI
// routes on GSIs 0-23, pin assertions signal the pin's irqfd, and the hypervisor's EOI message for
// a level-triggered vector ends Remote IRR and re-delivers a pin that is still asserted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mshv_backend_test.h"
#include "mshv_vm.h"

namespace ferry::test {
namespace {

using namespace mshv;

constexpr uint64_t kMasked = 1ull << 16;
constexpr uint64_t kLevel = 1ull << 15;
constexpr uint64_t kRemoteIrr = 1ull << 14;

class MshvIoapicTest : public MshvBackendTest {
 protected:
  void SetUp() override {
    const uint8_t code[] = {0xf4};
    ASSERT_NO_FATAL_FAILURE(boot(vmm::BootMode::kLong, code));
  }
  MshvIoapic& ioapic() { return static_cast<MshvVm&>(*vm_).ioapic(); }
  void write32(uint64_t offset, uint32_t value) {
    const uint8_t bytes[4] = {static_cast<uint8_t>(value), static_cast<uint8_t>(value >> 8),
                              static_cast<uint8_t>(value >> 16), static_cast<uint8_t>(value >> 24)};
    ioapic().mmio_write(kIoapicBase + offset, bytes);
  }
  uint32_t read32(uint64_t offset) {
    uint8_t bytes[4];
    ioapic().mmio_read(kIoapicBase + offset, bytes);
    return bytes[0] | bytes[1] << 8 | bytes[2] << 16 | uint32_t{bytes[3]} << 24;
  }
  uint32_t read_register(uint32_t index) {
    write32(0x00, index);
    return read32(0x10);
  }
  void program(unsigned pin, uint64_t rte) {
    write32(0x00, 0x11 + 2 * pin);
    write32(0x10, static_cast<uint32_t>(rte >> 32));
    write32(0x00, 0x10 + 2 * pin);
    write32(0x10, static_cast<uint32_t>(rte));
  }
  // Plays the guest's EOI of `vector` and runs the vCPU until it reports it.
  void guest_eoi(uint8_t vector) {
    fake_.play(0, FakeGuestEvent::eoi(vector));
    RecordingGuestIo io;
    auto exit = vcpu_->run(io);
    ASSERT_TRUE(exit) << exit.error().message();
    EXPECT_EQ(exit->kind, accel::ExitKind::kIoapicEoi);
    EXPECT_EQ(exit->vector, vector);
  }
};

TEST_F(MshvIoapicTest, IdentifiesAsA24PinIoapic) {
  EXPECT_EQ(read_register(0x01), 0x00170011u);
  write32(0x00, 0x00);
  write32(0x10, 0x0a000000);
  EXPECT_EQ(read_register(0x00), 0x0a000000u);
  EXPECT_EQ(read_register(0x10 + 2 * 9), kMasked) << "every pin starts masked";
}

TEST_F(MshvIoapicTest, MaskedPinsHaveNoRouteAndDeliverNothing) {
  ASSERT_TRUE(vm_->set_irq_line(4, true));
  ASSERT_TRUE(vm_->set_irq_line(4, false));
  EXPECT_TRUE(fake_.routes().empty());
  EXPECT_TRUE(fake_.injections().empty());
  EXPECT_EQ(fake_.irqfd_count(), 0u) << "a pin's irqfd comes after its first route";
}

TEST_F(MshvIoapicTest, EdgePinDeliversOnEachRisingEdge) {
  program(4, 0x0100000000000024);  // vector 0x24, fixed, edge, to APIC 1
  auto routes = fake_.routes();
  ASSERT_EQ(routes.count(4), 1u);
  EXPECT_EQ(routes[4].address_lo, 0xfee01000u);
  EXPECT_EQ(fake_.irqfd_count(), 1u);
  ASSERT_TRUE(vm_->set_irq_line(4, true));
  ASSERT_TRUE(vm_->set_irq_line(4, true));  // no edge
  ASSERT_TRUE(vm_->set_irq_line(4, false));
  ASSERT_TRUE(vm_->set_irq_line(4, true));
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 2u);
  EXPECT_EQ(injected[0].gsi, 4u);
  EXPECT_EQ(injected[0].vector, 0x24);
  EXPECT_EQ(injected[0].apic_id, 1);
  EXPECT_FALSE(injected[0].level);
}

TEST_F(MshvIoapicTest, MaskingRemovesTheRouteAndLogicalDestinationsDecode) {
  program(3, 0x0200000000000800 | 0x31);  // logical destination 2
  auto routes = fake_.routes();
  ASSERT_EQ(routes.count(3), 1u);
  EXPECT_EQ(routes[3].address_lo, 0xfee02004u);
  program(3, kMasked | 0x31);
  EXPECT_EQ(fake_.routes().count(3), 0u);
  ASSERT_TRUE(vm_->set_irq_line(3, true));
  EXPECT_TRUE(fake_.injections().empty());
}

TEST_F(MshvIoapicTest, LevelPinHoldsRemoteIrrUntilTheEoi) {
  program(10, kLevel | 0x3a);
  EXPECT_EQ(fake_.routes()[10].data, 0x3au | 1u << 15 | 1u << 14);
  ASSERT_TRUE(vm_->set_irq_line(10, true));
  ASSERT_TRUE(vm_->set_irq_line(10, true));
  EXPECT_EQ(fake_.injections().size(), 1u) << "Remote IRR holds the second assertion";
  EXPECT_NE(static_cast<MshvVm&>(*vm_).ioapic().redirection_entry(10) & kRemoteIrr, 0u);
  EXPECT_EQ(read_register(0x10 + 2 * 10) & kRemoteIrr, kRemoteIrr);
  ASSERT_NO_FATAL_FAILURE(guest_eoi(0x3a));
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 2u) << "still asserted at the EOI: delivered again";
  EXPECT_TRUE(injected[1].level);
  ASSERT_TRUE(vm_->set_irq_line(10, false));
  ASSERT_NO_FATAL_FAILURE(guest_eoi(0x3a));
  EXPECT_EQ(fake_.injections().size(), 2u);
  EXPECT_EQ(ioapic().redirection_entry(10) & kRemoteIrr, 0u);
}

TEST_F(MshvIoapicTest, UnmaskingAnAssertedLevelPinDelivers) {
  ASSERT_TRUE(vm_->set_irq_line(11, true));
  program(11, kLevel | 0x3b);
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u);
  EXPECT_EQ(injected[0].vector, 0x3b);
}

TEST_F(MshvIoapicTest, OnlyPins0To23Exist) {
  auto line = vm_->set_irq_line(24, true);
  ASSERT_FALSE(line);
  EXPECT_EQ(line.error().code(), Errc::kInvalidArgument);
}

TEST_F(MshvIoapicTest, WritesKeepTheReadOnlyBits) {
  program(12, kLevel | 0x40);
  ASSERT_TRUE(vm_->set_irq_line(12, true));
  write32(0x00, 0x10 + 2 * 12);
  write32(0x10, static_cast<uint32_t>(kLevel | 0x41));  // retarget while Remote IRR is set
  EXPECT_EQ(ioapic().redirection_entry(12) & kRemoteIrr, kRemoteIrr);
  EXPECT_EQ(fake_.routes()[12].data & 0xff, 0x41u);
}

}  // namespace
}  // namespace ferry::test

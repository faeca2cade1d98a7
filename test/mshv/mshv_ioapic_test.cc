// Legacy interrupt pins on MSHV, which has no in-kernel IOAPIC: the VMM's IOAPIC (irq::Ioapic)
// turns redirection entries into MSI routes on GSIs 0-23 and assertions into irqfd signals, and
// the hypervisor's EOI message for a level-triggered vector comes back from the run loop as
// kIoapicEoi. Here that chain runs against the fake driver's kernel rules.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/irq/ioapic.h"
#include "ferry/irq/msi_route_table.h"
#include "mshv_backend_test.h"

namespace ferry::test {
namespace {

using namespace mshv;

constexpr uint64_t kLevel = 1ull << 15;

class MshvIoapicTest : public MshvBackendTest {
 protected:
  void SetUp() override {
    const uint8_t code[] = {0xeb, 0xfe};  // jmp .
    ASSERT_NO_FATAL_FAILURE(boot(vmm::BootMode::kLong, code));
    routes_.emplace(*vm_);
    auto ioapic = irq::Ioapic::create(*routes_);
    ASSERT_TRUE(ioapic) << ioapic.error().message();
    ioapic_ = std::move(*ioapic);
  }
  void TearDown() override { ioapic_.reset(); }

  void program(unsigned pin, uint64_t entry) {
    ioapic_->write_register(0x00, 4, 0x11 + 2 * pin);
    ioapic_->write_register(0x10, 4, entry >> 32);
    ioapic_->write_register(0x00, 4, 0x10 + 2 * pin);
    ioapic_->write_register(0x10, 4, entry & 0xffffffff);
  }
  // The guest ends `vector`: the run loop reports it, the VMM hands it to its IOAPIC.
  void guest_eoi(uint8_t vector) {
    fake_.play(0, FakeGuestEvent::eoi(vector));
    RecordingGuestIo io;
    auto exit = vcpu_->run(io);
    ASSERT_TRUE(exit) << exit.error().message();
    ASSERT_EQ(exit->kind, accel::ExitKind::kIoapicEoi);
    EXPECT_EQ(exit->vector, vector);
    ioapic_->end_of_interrupt(exit->vector);
  }

  std::optional<irq::MsiRouteTable> routes_;
  std::shared_ptr<irq::Ioapic> ioapic_;
};

TEST_F(MshvIoapicTest, AMaskedPinHasNoIrqfdAndDeliversNothing) {
  ioapic_->set_level(4, true);
  ioapic_->set_level(4, false);
  EXPECT_TRUE(fake_.routes().empty());
  EXPECT_TRUE(fake_.injections().empty());
  EXPECT_EQ(fake_.irqfd_count(), 0u);
}

TEST_F(MshvIoapicTest, AnEdgePinDeliversThroughItsRouteOnItsGsi) {
  program(4, 0x0100000000000024);  // vector 0x24, fixed, edge, to APIC 1
  auto routes = fake_.routes();
  ASSERT_EQ(routes.count(4), 1u);
  EXPECT_EQ(routes[4].address_lo, 0xfee01000u);
  ioapic_->set_level(4, true);
  ioapic_->set_level(4, false);
  ioapic_->set_level(4, true);
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 2u);
  EXPECT_EQ(injected[0].gsi, 4u);
  EXPECT_EQ(injected[0].vector, 0x24);
  EXPECT_EQ(injected[0].apic_id, 1);
  EXPECT_EQ(fake_.dropped(4), 0u) << "the route was committed before the irqfd was assigned";
}

TEST_F(MshvIoapicTest, ALevelPinRefiresAfterTheEoiFromTheRunLoop) {
  program(10, kLevel | 0x3a);
  ioapic_->set_level(10, true);
  ioapic_->set_level(10, true);
  EXPECT_EQ(fake_.injections().size(), 1u) << "Remote IRR holds the second assertion";
  ASSERT_NO_FATAL_FAILURE(guest_eoi(0x3a));
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 2u) << "still asserted at the EOI: delivered again";
  EXPECT_TRUE(injected[1].level);
  ioapic_->set_level(10, false);
  ASSERT_NO_FATAL_FAILURE(guest_eoi(0x3a));
  EXPECT_EQ(fake_.injections().size(), 2u);
}

TEST_F(MshvIoapicTest, PinZeroWorksBecauseItsRouteComesFirst) {
  // The kernel asserts vector 0 for a signal on GSI 0 without a route; the IOAPIC never signals
  // a pin before committing its route.
  program(0, 0x0000000000000030);
  ioapic_->set_level(0, true);
  auto injected = fake_.injections();
  ASSERT_EQ(injected.size(), 1u);
  EXPECT_EQ(injected[0].vector, 0x30);
}

}  // namespace
}  // namespace ferry::test

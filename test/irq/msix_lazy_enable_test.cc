// Linux's lazy MSI-X enable (drivers/pci/msi: MASKALL|ENABLE, program every entry masked, clear
// MASKALL, then unmask one vector at a time as drivers call request_irq) on the emulated MSI-X
// table over the fake /dev/mshv, with the device raising every vector at every step.
#include <gtest/gtest.h>

#include <map>

#include "ferry/irq/msi_route_table.h"
#include "ferry/pci/config_regs.h"
#include "ferry/pci/msix_table.h"
#include "mshv_backend_test.h"

namespace ferry::test {
namespace {

constexpr unsigned kVectors = 16;

class LinuxLazyMsixEnableTest : public MshvBackendTest {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(create_vm()); }
};

// Every raise is delivered, or, while its vector is masked, folded into the one pending
// delivery at unmask (the PBA is a bit per vector); nothing is lost or misdirected.
TEST_F(LinuxLazyMsixEnableTest, EveryInterruptIsDeliveredWhileVectorsAreUnmaskedOneByOne) {
  irq::MsiRouteTable routes(*vm_);
  pci::MsixTable table("lazy", kVectors, routes);
  table.set_control(true, true);  // MASKALL | ENABLE
  for (unsigned i = 0; i < kVectors; ++i) {
    table.write_table(i * 16 + pci::kMsixEntryAddressLo, 8, 0xfee00000);
    table.write_table(i * 16 + pci::kMsixEntryData, 4, 0x40 + i);
    table.write_table(i * 16 + pci::kMsixEntryControl, 4, 1);
  }
  table.set_control(true, false);  // clear MASKALL: every entry is still masked
  EXPECT_TRUE(fake_.routes().empty()) << "masked vectors hold no GSI and no route";

  std::map<uint8_t, unsigned> expected;
  bool pending[kVectors] = {};
  unsigned raised = 0;
  for (unsigned next = 0; next < kVectors; ++next) {
    for (unsigned v = 0; v < kVectors; ++v) {  // the device fires everything, all the time
      ++raised;
      switch (table.raise(v)) {
        case pci::MsixTable::Raised::kSent:
          ++expected[0x40 + v];
          break;
        case pci::MsixTable::Raised::kPending:
          pending[v] = true;
          break;
        case pci::MsixTable::Raised::kDropped:
          ADD_FAILURE() << "vector " << v << " dropped";
          break;
      }
    }
    table.write_table(next * 16 + pci::kMsixEntryControl, 4, 0);  // request_irq: unmask one
    if (pending[next]) ++expected[0x40 + next];
    pending[next] = false;
  }
  std::map<uint8_t, unsigned> delivered;
  for (const FakeInjection& i : fake_.injections()) {
    EXPECT_EQ(i.entry, FakeRouteEntry::kRoute);
    ++delivered[i.vector];
  }
  EXPECT_EQ(delivered, expected);
  EXPECT_EQ(delivered.size(), kVectors) << "every vector got through";
  unsigned total = 0;
  for (const auto& [vector, count] : expected) total += count;
  EXPECT_EQ(table.sent(), total);
  EXPECT_GT(raised, total) << "raises while masked fold into one pending delivery";
  EXPECT_EQ(fake_.hole_signals(), 0u);
  EXPECT_EQ(routes.stats().commits, kVectors) << "one commit per unmask exit";
}

}  // namespace
}  // namespace ferry::test

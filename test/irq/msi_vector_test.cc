// irq::MsiVector and irq::MsiBatch against a StrictMock Vm: the order each accelerator's strategy
// emits, batching, GSIs held only while unmasked, retarget, teardown, and the pending bit.
#include "ferry/irq/msi_vector.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "ferry/irq/msi_batch.h"
#include "ferry/irq/msi_message.h"
#include "mock_trigger.h"
#include "support/mock_accel.h"

namespace ferry::irq {
namespace {

using test::MockTrigger;
using test::MsiRouteIs;
using test::StrictMockVm;
using ::testing::_;
using ::testing::DoAll;
using ::testing::ElementsAre;
using ::testing::InSequence;
using ::testing::Invoke;
using ::testing::Return;
using ::testing::SaveArg;
using ::testing::StrictMock;

constexpr uint64_t kApic1 = 0xfee01000;
constexpr uint64_t kApic2 = 0xfee02000;
const Expected<void> kOk{};

bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

uint64_t drain(int fd) {
  uint64_t count = 0;
  return ::read(fd, &count, sizeof count) == sizeof count ? count : 0;
}

struct Device {
  StrictMock<MockTrigger>* trigger;
  std::unique_ptr<MsiVector> vector;
};

Device vfio_vector(MsiRouteTable& table) {
  auto trigger = std::make_unique<StrictMock<MockTrigger>>();
  auto* raw = trigger.get();
  return {raw, std::make_unique<MsiVector>(table, std::move(trigger))};
}

void go_live(MsiVector& vector, MsiRouteTable& table, uint64_t address, uint32_t data) {
  MsiBatch batch(table);
  vector.set_message(batch, address, data);
  vector.set_masked(batch, false);
  ASSERT_TRUE(batch.commit());
}

void set_masked(MsiVector& vector, MsiRouteTable& table, bool masked) {
  MsiBatch batch(table);
  vector.set_masked(batch, masked);
  ASSERT_TRUE(batch.commit());
}

TEST(MsiVectorOrder, TheMshvStrategyAttachesTheTriggerThenCommitsThenAssigns) {
  StrictMockVm vm(accel::IrqfdPairing::kAtAssign);
  MsiRouteTable table(vm);
  EXPECT_EQ(table.ordering().name, kTriggerFirst.name);
  Device device = vfio_vector(table);
  int attached = -1;
  {
    // InSequence: QEMU's order (commit, irqfd, then trigger) fails here.
    InSequence order;
    EXPECT_CALL(*device.trigger, attach(_)).WillOnce(DoAll(SaveArg<0>(&attached), Return(kOk)));
    EXPECT_CALL(vm, set_msi_routes(ElementsAre(MsiRouteIs(24u, kApic1, 0x45u))))
        .WillOnce(Return(kOk));
    EXPECT_CALL(vm, register_irqfd(_, 24u, std::optional<int>()))
        .WillOnce(Invoke([&](int fd, uint32_t, std::optional<int>) {
          EXPECT_EQ(fd, attached) << "the irqfd consumes the trigger's eventfd";
          return kOk;
        }));
  }
  go_live(*device.vector, table, kApic1, 0x45);
  InSequence teardown;
  EXPECT_CALL(vm, unregister_irqfd(attached, 24u)).WillOnce(Return(kOk));
  EXPECT_CALL(vm, set_msi_routes(ElementsAre())).WillOnce(Return(kOk));
  EXPECT_CALL(*device.trigger, detach()).WillOnce(Return(kOk));
}

TEST(MsiVectorOrder, TheKvmStrategyCommitsThenAssignsThenAttachesTheTrigger) {
  StrictMockVm vm(accel::IrqfdPairing::kWhenBothExist);
  MsiRouteTable table(vm);
  EXPECT_EQ(table.ordering().name, kRouteFirst.name);
  Device device = vfio_vector(table);
  {
    InSequence order;
    EXPECT_CALL(vm, set_msi_routes(ElementsAre(MsiRouteIs(24u, kApic1, 0x45u))))
        .WillOnce(Return(kOk));
    EXPECT_CALL(vm, register_irqfd(_, 24u, std::optional<int>())).WillOnce(Return(kOk));
    EXPECT_CALL(*device.trigger, attach(_)).WillOnce(Return(kOk));
  }
  go_live(*device.vector, table, kApic1, 0x45);
  EXPECT_CALL(vm, unregister_irqfd(_, 24u)).WillOnce(Return(kOk));
  EXPECT_CALL(vm, set_msi_routes(ElementsAre())).WillOnce(Return(kOk));
  EXPECT_CALL(*device.trigger, detach()).WillOnce(Return(kOk));
}

// Every irqfd assign, on both strategies, finds its GSI's route in the table last pushed.
TEST(MsiVectorOrder, NoIrqfdIsAssignedBeforeItsRouteIsCommitted) {
  for (auto pairing : {accel::IrqfdPairing::kAtAssign, accel::IrqfdPairing::kWhenBothExist}) {
    StrictMockVm vm(pairing);
    MsiRouteTable table(vm);
    std::set<uint32_t> pushed;
    EXPECT_CALL(vm, set_msi_routes(_))
        .WillRepeatedly(Invoke([&](std::span<const accel::MsiRoute> routes) {
          pushed.clear();
          for (const auto& r : routes) pushed.insert(r.gsi);
          return kOk;
        }));
    unsigned assigned = 0;
    EXPECT_CALL(vm, register_irqfd(_, _, _))
        .WillRepeatedly(Invoke([&](int, uint32_t gsi, std::optional<int>) {
          EXPECT_EQ(pushed.count(gsi), 1u) << "GSI " << gsi << " has no committed route";
          ++assigned;
          return kOk;
        }));
    EXPECT_CALL(vm, unregister_irqfd(_, _)).WillRepeatedly(Invoke([&](int, uint32_t gsi) {
      EXPECT_EQ(pushed.count(gsi), 1u) << "deassigned after its route left";
      return kOk;
    }));
    std::vector<std::unique_ptr<MsiVector>> vectors;
    for (int i = 0; i < 8; ++i) vectors.push_back(std::make_unique<MsiVector>(table));
    {
      MsiBatch batch(table);
      for (unsigned i = 0; i < 8; ++i) {
        vectors[i]->set_message(batch, kApic1, 0x40 + i);
        vectors[i]->set_masked(batch, false);
      }
    }
    set_masked(*vectors[3], table, true);
    go_live(*vectors[5], table, kApic2, 0x77);  // retarget
    set_masked(*vectors[3], table, false);
    vectors.clear();
    EXPECT_EQ(assigned, 10u);
  }
}

TEST(MsiVectorBatch, ABurstOfUnmasksCommitsOnce) {
  StrictMockVm vm(accel::IrqfdPairing::kAtAssign);
  MsiRouteTable table(vm);
  std::vector<std::unique_ptr<MsiVector>> vectors;
  for (int i = 0; i < 64; ++i) vectors.push_back(std::make_unique<MsiVector>(table));
  EXPECT_CALL(vm, set_msi_routes(_)).WillOnce(Invoke([](std::span<const accel::MsiRoute> r) {
    EXPECT_EQ(r.size(), 64u);
    return kOk;
  }));
  EXPECT_CALL(vm, register_irqfd(_, _, _)).Times(64).WillRepeatedly(Return(kOk));
  {
    MsiBatch batch(table);
    for (unsigned i = 0; i < 64; ++i) {
      vectors[i]->set_message(batch, kApic1, 0x40 + i);
      vectors[i]->set_masked(batch, false);
    }
  }
  EXPECT_EQ(table.stats().commits, 1u);
  EXPECT_CALL(vm, unregister_irqfd(_, _)).Times(64).WillRepeatedly(Return(kOk));
  EXPECT_CALL(vm, set_msi_routes(_)).Times(64).WillRepeatedly(Return(kOk));  // one per vector
  vectors.clear();
}

// Masked vectors hold no GSI: 2048 of a device's vectors live at once leave room in the 4096.
TEST(MsiVectorBatch, OnlyUnmaskedVectorsHoldGsis) {
  StrictMockVm vm(accel::IrqfdPairing::kAtAssign);
  MsiRouteTable table(vm);
  std::vector<std::unique_ptr<MsiVector>> vectors;
  for (int i = 0; i < 3 * 2048; ++i) vectors.push_back(std::make_unique<MsiVector>(table));
  EXPECT_CALL(vm, set_msi_routes(_)).WillRepeatedly(Return(kOk));
  EXPECT_CALL(vm, register_irqfd(_, _, _)).WillRepeatedly(Return(kOk));
  EXPECT_CALL(vm, unregister_irqfd(_, _)).WillRepeatedly(Return(kOk));
  {
    MsiBatch batch(table);
    for (unsigned i = 0; i < 2048; ++i) {
      vectors[i]->set_message(batch, kApic1, 0x40);
      vectors[i]->set_masked(batch, false);
    }
  }
  EXPECT_EQ(*vectors[2047]->gsi(), 24u + 2047);
  EXPECT_FALSE(vectors[2048]->gsi()) << "masked: no GSI";
  {
    MsiBatch batch(table);  // the first device masks all, another unmasks 2048
    for (unsigned i = 0; i < 2048; ++i) vectors[i]->set_masked(batch, true);
    for (unsigned i = 2048; i < 4096; ++i) {
      vectors[i]->set_message(batch, kApic1, 0x41);
      vectors[i]->set_masked(batch, false);
    }
  }
  EXPECT_TRUE(vectors[4095]->live());
  EXPECT_LT(*vectors[4095]->gsi(), kGsiLimit);
  vectors.clear();
}

TEST(MsiVectorLife, RetargetDeassignsCommitsTheNewRouteAndReassigns) {
  StrictMockVm vm(accel::IrqfdPairing::kAtAssign);
  MsiRouteTable table(vm);
  Device device = vfio_vector(table);
  EXPECT_CALL(*device.trigger, attach(_)).WillOnce(Return(kOk));
  EXPECT_CALL(vm, set_msi_routes(_)).WillOnce(Return(kOk));
  EXPECT_CALL(vm, register_irqfd(_, 24u, _)).WillOnce(Return(kOk));
  go_live(*device.vector, table, kApic1, 0x45);
  {
    InSequence order;  // the trigger stays: it exists at the re-assign, which maps again
    EXPECT_CALL(vm, unregister_irqfd(_, 24u)).WillOnce(Return(kOk));
    EXPECT_CALL(vm, set_msi_routes(ElementsAre(MsiRouteIs(24u, kApic2, 0x46u))))
        .WillOnce(Return(kOk));
    EXPECT_CALL(vm, register_irqfd(_, 24u, _)).WillOnce(Return(kOk));
  }
  go_live(*device.vector, table, kApic2, 0x46);
  EXPECT_CALL(vm, unregister_irqfd(_, 24u)).WillOnce(Return(kOk));
  EXPECT_CALL(vm, set_msi_routes(ElementsAre())).WillOnce(Return(kOk));
  EXPECT_CALL(*device.trigger, detach()).WillOnce(Return(kOk));
}

// The eventfd is still open at the deassign (a closed one detaches the irqfd on its own, and
// the deassign then fails with EBADF), and closes only after the trigger let go of it.
TEST(MsiVectorLife, TeardownDeassignsWithTheEventfdOpenThenDropsTheRouteThenDetaches) {
  StrictMockVm vm(accel::IrqfdPairing::kAtAssign);
  MsiRouteTable table(vm);
  Device device = vfio_vector(table);
  int fd = -1;
  EXPECT_CALL(*device.trigger, attach(_)).WillOnce(DoAll(SaveArg<0>(&fd), Return(kOk)));
  EXPECT_CALL(vm, set_msi_routes(_)).WillOnce(Return(kOk));
  EXPECT_CALL(vm, register_irqfd(_, 24u, _)).WillOnce(Return(kOk));
  go_live(*device.vector, table, kApic1, 0x45);
  {
    InSequence order;
    EXPECT_CALL(vm, unregister_irqfd(fd, 24u)).WillOnce(Invoke([](int eventfd, uint32_t) {
      EXPECT_TRUE(fd_open(eventfd)) << "the eventfd was closed before its irqfd was deassigned";
      return kOk;
    }));
    EXPECT_CALL(vm, set_msi_routes(ElementsAre())).WillOnce(Return(kOk));
    EXPECT_CALL(*device.trigger, detach()).WillOnce(Invoke([&] {
      EXPECT_TRUE(fd_open(fd));
      return kOk;
    }));
  }
  device.vector.reset();
  EXPECT_FALSE(fd_open(fd));
}

TEST(MsiVectorPending, MaskTwoSignalsUnmaskDeliversExactlyOne) {
  StrictMockVm vm(accel::IrqfdPairing::kAtAssign);
  MsiRouteTable table(vm);
  MsiVector vector(table);
  int fd = -1;
  EXPECT_CALL(vm, set_msi_routes(_)).WillRepeatedly(Return(kOk));
  EXPECT_CALL(vm, register_irqfd(_, 24u, _))
      .Times(2)
      .WillRepeatedly(DoAll(SaveArg<0>(&fd), Return(kOk)));
  EXPECT_CALL(vm, unregister_irqfd(_, 24u)).Times(2).WillRepeatedly(Return(kOk));
  go_live(vector, table, kApic1, 0x45);
  EXPECT_EQ(vector.signal(), MsiVector::Signal::kSent);
  EXPECT_EQ(drain(fd), 1u);
  set_masked(vector, table, true);
  EXPECT_EQ(vector.signal(), MsiVector::Signal::kPending);
  EXPECT_EQ(vector.signal(), MsiVector::Signal::kPending);
  EXPECT_TRUE(vector.pending());
  EXPECT_EQ(drain(fd), 0u) << "nothing reaches the eventfd while masked";
  set_masked(vector, table, false);
  EXPECT_FALSE(vector.pending());
  EXPECT_EQ(drain(fd), 1u);
  EXPECT_EQ(vector.sent(), 2u);
}

// The hostile guests' MSI-X garbage (guests/hostile_irq.c): an unmasked vector whose message is
// not an interrupt holds no GSI and no route (the StrictMock Vm fails on any push); raised, it
// is dropped, not left pending to go out later under a good message.
TEST(MsiVectorRefused, AnUnmaskedVectorWithABadMessageIsNeverRoutedAndDropsWhatItRaises) {
  StrictMockVm vm(accel::IrqfdPairing::kAtAssign);
  MsiRouteTable table(vm);
  MsiVector vector(table);
  const std::pair<uint64_t, uint32_t> bad[] = {
      {0x0, 0x45},                    // outside the window: KVM would deliver it to APIC 0
      {0xdead0000fee00000ull, 0x45},  // upper half set
      {0xfef00000, 0x45},             // just past the window
      {kApic1, 0x0f},                 // illegal vector, fixed
      {kApic1, 0x100 | 0x03},         // illegal vector, lowest priority
      {kApic1, 0x200 | 0x45},         // SMI
      {kApic1, 0x300 | 0x45},         // reserved mode
      {kApic1, 0x600 | 0x45},         // reserved mode
      {kApic1, 0x700 | 0x45},         // ExtINT
  };
  for (const auto& [address, data] : bad) {
    MsiBatch batch(table);
    vector.set_message(batch, address, data);
    vector.set_masked(batch, false);
    ASSERT_TRUE(batch.commit());
    EXPECT_FALSE(vector.live());
    EXPECT_FALSE(vector.gsi());
    EXPECT_EQ(vector.signal(), MsiVector::Signal::kDropped) << std::hex << address << " " << data;
    EXPECT_FALSE(vector.pending());
  }
  EXPECT_EQ(vector.dropped(), std::size(bad));
  EXPECT_EQ(vector.sent(), 0u);
  // A good message afterwards goes live and sends exactly what it is raised for.
  int fd = -1;
  EXPECT_CALL(vm, set_msi_routes(ElementsAre(MsiRouteIs(24u, kApic1, 0x45u))))
      .WillOnce(Return(kOk));
  EXPECT_CALL(vm, register_irqfd(_, 24u, _)).WillOnce(DoAll(SaveArg<0>(&fd), Return(kOk)));
  go_live(vector, table, kApic1, 0x45);
  EXPECT_EQ(drain(fd), 0u) << "nothing dropped comes back";
  EXPECT_EQ(vector.signal(), MsiVector::Signal::kSent);
  EXPECT_EQ(drain(fd), 1u);
  EXPECT_CALL(vm, unregister_irqfd(_, 24u)).WillOnce(Return(kOk));
  EXPECT_CALL(vm, set_msi_routes(ElementsAre())).WillOnce(Return(kOk));
}

TEST(MsiMessage, OnlyInterruptsInTheApicWindowAreDeliverable) {
  EXPECT_TRUE(msi_deliverable(0xfee00000, 0x10));
  EXPECT_TRUE(msi_deliverable(0xfeeff00c, 0xc0ff));  // any APIC ID, redirection hint, logical
  EXPECT_TRUE(msi_deliverable(0xfee00000, 0x100 | 0x10));
  EXPECT_TRUE(msi_deliverable(0xfee00000, 0x400));  // NMI ignores the vector
  EXPECT_TRUE(msi_deliverable(0xfee00000, 0x500));  // INIT too
  std::string why;
  EXPECT_FALSE(msi_deliverable(0xfee00000, 0x0f, &why));
  EXPECT_EQ(why, "vector 15 is reserved (an illegal vector)");
  EXPECT_FALSE(msi_deliverable(0xfed00000, 0x40, &why));
  EXPECT_EQ(why, "address 0xfed00000 is outside the MSI window");
  EXPECT_FALSE(msi_deliverable(0x1fee00000ull, 0x40));
  EXPECT_FALSE(msi_deliverable(0xfee00000, 0x200));
  EXPECT_FALSE(msi_deliverable(0xfee00000, 0x340));
  EXPECT_FALSE(msi_deliverable(0xfee00000, 0x640));
  EXPECT_FALSE(msi_deliverable(0xfee00000, 0x740));
}

}  // namespace
}  // namespace ferry::irq

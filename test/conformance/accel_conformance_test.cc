// The accel::Vm and accel::Vcpu contract where KVM and MSHV share it: the same calls give the same
// results and the same error codes on both.
#include <gtest/gtest.h>

#include "conformance_backend.h"
#include "ferry/base/event_fd.h"
#include "ferry/base/mapping.h"
#include "support/kvm_required.h"

namespace ferry::test {
namespace {

class AccelConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "kvm") FERRY_REQUIRE_KVM();
    backend_ = ConformanceBackend::make(GetParam());
    auto hypervisor = backend_->open();
    ASSERT_TRUE(hypervisor) << hypervisor.error().message();
    hypervisor_ = std::move(*hypervisor);
    auto vm = hypervisor_->create_vm({.vcpus = 2});
    ASSERT_TRUE(vm) << vm.error().message();
    vm_ = std::move(*vm);
    auto host = Mapping::anonymous(16 * 4096);
    ASSERT_TRUE(host);
    host_ = std::move(*host);
  }

  std::unique_ptr<ConformanceBackend> backend_;
  std::unique_ptr<accel::Hypervisor> hypervisor_;
  std::unique_ptr<accel::Vm> vm_;
  Mapping host_;
};

TEST_P(AccelConformanceTest, MemoryMappings) {
  ASSERT_TRUE(vm_->map_memory(0x100000, 4 * 4096, host_.data(), true));
  auto overlap = vm_->map_memory(0x102000, 4096, host_.data() + 8 * 4096, true);
  ASSERT_FALSE(overlap);
  EXPECT_EQ(overlap.error().code(), Errc::kExists);
  auto unaligned = vm_->map_memory(0x200800, 4096, host_.data() + 8 * 4096, true);
  ASSERT_FALSE(unaligned);
  EXPECT_EQ(unaligned.error().code(), Errc::kInvalidArgument);
  auto inexact = vm_->unmap_memory(0x100000, 4096);
  ASSERT_FALSE(inexact);
  EXPECT_EQ(inexact.error().code(), Errc::kNotFound);
  EXPECT_TRUE(vm_->unmap_memory(0x100000, 4 * 4096));
  EXPECT_TRUE(vm_->map_memory(0x100000, 4096, host_.data(), false)) << "free again";
}

TEST_P(AccelConformanceTest, VcpuIndices) {
  auto first = vm_->create_vcpu(1);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ((*first)->index(), 1u);
  auto again = vm_->create_vcpu(1);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::kExists);
}

TEST_P(AccelConformanceTest, MsiRoutes) {
  // GSIs 0-23 carry the VMM's IOAPIC pins, the rest device MSIs: one table for both.
  const accel::MsiRoute good[] = {
      {4, 0xfee00000, 0x8034}, {24, 0xfee00000, 0x40}, {100, 0xfee01000, 0x41}};
  EXPECT_TRUE(vm_->set_msi_routes(good));
  const accel::MsiRoute beyond{4096, 0xfee00000, 0x40};
  auto too_high = vm_->set_msi_routes({&beyond, 1});
  ASSERT_FALSE(too_high);
  EXPECT_EQ(too_high.error().code(), Errc::kNoResources);
  const accel::MsiRoute twice[] = {{30, 0xfee00000, 1}, {30, 0xfee00000, 2}};
  auto duplicate = vm_->set_msi_routes(twice);
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code(), Errc::kInvalidArgument);
  EXPECT_TRUE(vm_->set_msi_routes({})) << "an empty table clears";
}

TEST_P(AccelConformanceTest, Irqfds) {
  auto event = EventFd::create();
  ASSERT_TRUE(event);
  const accel::MsiRoute route{40, 0xfee00000, 0x40};
  ASSERT_TRUE(vm_->set_msi_routes({&route, 1}));
  ASSERT_TRUE(vm_->register_irqfd(event->fd(), 40));
  EXPECT_FALSE(vm_->register_irqfd(event->fd(), 40)) << "the same eventfd twice";
  EXPECT_TRUE(vm_->unregister_irqfd(event->fd(), 40));
  EXPECT_TRUE(vm_->register_irqfd(event->fd(), 40)) << "free again after the deassign";
}

TEST_P(AccelConformanceTest, MmioIoeventfds) {
  auto event = EventFd::create();
  ASSERT_TRUE(event);
  const accel::IoEventFd doorbell{accel::IoSpace::kMmio, 0xfe000000, 4, 1, event->fd()};
  ASSERT_TRUE(vm_->register_ioeventfd(doorbell));
  auto odd =
      vm_->register_ioeventfd({accel::IoSpace::kMmio, 0xfe000100, 3, std::nullopt, event->fd()});
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().code(), Errc::kInvalidArgument);
  EXPECT_TRUE(vm_->unregister_ioeventfd(doorbell));
}

TEST_P(AccelConformanceTest, RegistersRoundTrip) {
  auto vcpu = vm_->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  // Long mode needs CPUID's LM bit first: Linux 6.12's KVM refuses EFER.LME without it.
  auto cpuid = hypervisor_->supported_cpuid();
  ASSERT_TRUE(cpuid) << cpuid.error().message();
  ASSERT_TRUE((*vcpu)->set_cpuid(*cpuid));
  accel::Regs regs;
  regs.rax = 1, regs.rbx = 2, regs.rcx = 3, regs.rdx = 4, regs.rsi = 5, regs.rdi = 6;
  regs.rsp = 7, regs.rbp = 8, regs.r8 = 9, regs.r12 = 10, regs.r15 = 11;
  regs.rip = 0x1234, regs.rflags = 0x202;
  ASSERT_TRUE((*vcpu)->set_regs(regs));
  auto back = (*vcpu)->get_regs();
  ASSERT_TRUE(back);
  EXPECT_EQ(accel::format_registers(*back, {}), accel::format_registers(regs, {}));

  auto sregs = (*vcpu)->get_special_regs();
  ASSERT_TRUE(sregs);
  sregs->cs = {.base = 0,
               .limit = 0xffffffff,
               .selector = 8,
               .type = 0xb,
               .present = true,
               .s = true,
               .l = true,
               .g = true};
  sregs->ds = {.base = 0x1000,
               .limit = 0xfffff,
               .selector = 0x18,
               .type = 3,
               .present = true,
               .s = true,
               .db = true,
               .g = true};
  sregs->gdt = {0x1000, 47};
  sregs->cr0 = accel::kCr0Pe | accel::kCr0Et | accel::kCr0Pg;  // a consistent long-mode state
  sregs->cr3 = 0x2000;
  sregs->cr4 = accel::kCr4Pae;
  sregs->efer = accel::kEferLme | accel::kEferLma;
  auto set = (*vcpu)->set_special_regs(*sregs);
  ASSERT_TRUE(set) << set.error().message();
  auto sback = (*vcpu)->get_special_regs();
  ASSERT_TRUE(sback);
  EXPECT_TRUE(sback->cs.l);
  EXPECT_EQ(sback->cs.selector, 8);
  EXPECT_EQ(sback->ds.base, 0x1000u);
  EXPECT_TRUE(sback->ds.db);
  EXPECT_EQ(sback->gdt.limit, 47);
  EXPECT_EQ(sback->cr3, 0x2000u);
  EXPECT_EQ(sback->efer & (accel::kEferLme | accel::kEferLma), accel::kEferLme | accel::kEferLma);

  accel::FpuState fpu;
  fpu.mxcsr = 0x7f80;  // all exceptions masked, rounding toward zero
  fpu.xmm[7][3] = 0x77;
  fpu.xmm[0][15] = 0x11;
  ASSERT_TRUE((*vcpu)->set_fpu(fpu));
  auto fback = (*vcpu)->get_fpu();
  ASSERT_TRUE(fback);
  EXPECT_EQ(fback->xmm[7][3], 0x77);
  EXPECT_EQ(fback->xmm[0][15], 0x11);
  EXPECT_EQ(fback->mxcsr, 0x7f80u);
}

std::string backend_name(const ::testing::TestParamInfo<std::string>& param) { return param.param; }

INSTANTIATE_TEST_SUITE_P(Backends, AccelConformanceTest, ::testing::Values("kvm", "mshv"),
                         backend_name);

}  // namespace
}  // namespace ferry::test

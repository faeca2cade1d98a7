// Partition and VP lifecycle on the fake driver: the creation sequence, the clock, the kernel
// missing an ioctl, VP creation and the registers through hypercalls and the register page.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mshv_backend_test.h"
#include "mshv_vm.h"

namespace ferry::test {
namespace {

using namespace mshv;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class MshvPartitionTest : public MshvBackendTest {};

TEST(MshvOpen, AbsentDeviceSaysWhatToDo) {
  FakeMshvOptions options;
  options.device_present = false;
  FakeMshvDriver fake(options);
  auto hypervisor = MshvHypervisor::open(fake);
  ASSERT_FALSE(hypervisor);
  EXPECT_EQ(hypervisor.error().code(), Errc::kNotFound);
  EXPECT_THAT(hypervisor.error().message(), HasSubstr("/dev/mshv does not exist"));
  EXPECT_THAT(hypervisor.error().message(), HasSubstr("--accel kvm"));
}

TEST_F(MshvPartitionTest, CreationFollowsTheUpstreamSequence) {
  ASSERT_NO_FATAL_FAILURE(create_vm());
  EXPECT_THAT(fake_.call_names(),
              ElementsAre("MSHV_CREATE_PARTITION", "HvCallSetPartitionProperty 0x10001=0xb8b",
                          "MSHV_INITIALIZE_PARTITION", "HvCallSetPartitionProperty 0x50017=0x1",
                          "HvCallSetPartitionProperty 0x30003=0x1"));
  EXPECT_EQ(fake_.partition_flags(), kPtLapic | kPtX2apic | kPtGpaSuperPages);
  EXPECT_TRUE(fake_.initialized());
  EXPECT_EQ(hypervisor_->kind(), accel::Kind::kMshv);
  EXPECT_EQ(hypervisor_->max_vcpus(), 256u);
}

TEST_F(MshvPartitionTest, TooManyVcpus) {
  auto hypervisor = MshvHypervisor::open(fake_);
  ASSERT_TRUE(hypervisor);
  auto vm = (*hypervisor)->create_vm({.vcpus = 257});
  ASSERT_FALSE(vm);
  EXPECT_THAT(vm.error().message(), HasSubstr("MSHV allows 1 to 256"));
}

TEST_F(MshvPartitionTest, CpuFeatureBanksOnAKernelThatRefusesThem) {
  MshvOptions options;
  options.cpu_feature_banks = true;
  auto hypervisor = MshvHypervisor::open(fake_, "/dev/mshv", options);
  ASSERT_TRUE(hypervisor);
  auto vm = (*hypervisor)->create_vm({});
  ASSERT_FALSE(vm);
  EXPECT_EQ(vm.error().code(), Errc::kUnsupported);
  EXPECT_THAT(vm.error().message(), HasSubstr("refuses CPU feature banks"));
}

TEST(MshvCreation, CpuFeatureBanksReachTheKernel) {
  FakeMshvOptions fake_options;
  fake_options.cpu_feature_banks = true;
  FakeMshvDriver fake(fake_options);
  MshvOptions options;
  options.cpu_feature_banks = true;
  options.disabled_processor_features[0] = 0x11;
  options.disabled_processor_features[1] = 0x22;
  options.disabled_xsave_features = 0x33;
  auto hypervisor = MshvHypervisor::open(fake, "/dev/mshv", options);
  ASSERT_TRUE(hypervisor);
  auto vm = (*hypervisor)->create_vm({});
  ASSERT_TRUE(vm) << vm.error().message();
  auto creation = fake.partition_creation();
  ASSERT_TRUE(creation);
  EXPECT_EQ(creation->pt_flags, kPtLapic | kPtX2apic | kPtGpaSuperPages | kPtCpuAndXsaveFeatures);
  EXPECT_EQ(creation->pt_num_cpu_fbanks, 2);
  EXPECT_EQ(creation->pt_cpu_fbanks[0], 0x11u);
  EXPECT_EQ(creation->pt_cpu_fbanks[1], 0x22u);
  EXPECT_EQ(creation->pt_disabled_xsave, 0x33u);
}

TEST(MshvCreation, HypercallsRetryAfterTheDriverDepositsMemory) {
  FakeMshvOptions options;
  options.insufficient_memory_hypercalls = 3;
  FakeMshvDriver fake(options);
  auto hypervisor = MshvHypervisor::open(fake);
  ASSERT_TRUE(hypervisor);
  auto vm = (*hypervisor)->create_vm({});
  ASSERT_TRUE(vm) << vm.error().message();
  EXPECT_EQ(fake.property(kHvPropertyTimeFreeze), 1u);
}

TEST(MshvCreation, AKernelWithoutAnIoctlIsNamed) {
  FakeMshvOptions options;
  options.unknown_requests = {kMshvSetMsiRouting};
  FakeMshvDriver fake(options);
  auto hypervisor = MshvHypervisor::open(fake);
  ASSERT_TRUE(hypervisor);
  auto vm = (*hypervisor)->create_vm({});
  ASSERT_TRUE(vm);
  const accel::MsiRoute route{30, 0xfee00000, 0x40};
  auto set = (*vm)->set_msi_routes({&route, 1});
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code(), Errc::kUnsupported);
  EXPECT_THAT(set.error().message(), HasSubstr("does not know MSHV_SET_MSI_ROUTING"));
  EXPECT_THAT(set.error().message(), HasSubstr("Linux 6.15"));
}

TEST_F(MshvPartitionTest, ClockIsFrozenUntilTheFirstRun) {
  const uint8_t code[] = {0xf4};  // hlt with interrupts off
  ASSERT_NO_FATAL_FAILURE(boot(vmm::BootMode::kLong, code));
  EXPECT_EQ(fake_.property(kHvPropertyTimeFreeze), 1u);
  RecordingGuestIo io;
  EXPECT_EQ(run_until_stop(io).kind, accel::ExitKind::kHalt);
  EXPECT_EQ(fake_.property(kHvPropertyTimeFreeze), 0u);
  auto writes = fake_.property_writes();
  EXPECT_EQ(std::count(writes.begin(), writes.end(),
                       std::pair<uint32_t, uint64_t>{kHvPropertyTimeFreeze, 0}),
            1)
      << "thawed once";
}

TEST_F(MshvPartitionTest, VpCreationWiresLint0AndLint1AndTheRegisterPage) {
  ASSERT_NO_FATAL_FAILURE(create_vm());
  auto vcpu = vm_->create_vcpu(2);
  ASSERT_TRUE(vcpu) << vcpu.error().message();
  EXPECT_EQ((*vcpu)->index(), 2u);
  const HvLapicState lapic = fake_.lapic(2);
  EXPECT_EQ(lapic.apic_lvt_lint0 & kApicDeliveryModeMask, kApicDeliveryExtInt);
  EXPECT_EQ(lapic.apic_lvt_lint1 & kApicDeliveryModeMask, kApicDeliveryNmi);
  EXPECT_EQ(lapic.apic_lvt_lint0 & 0x10000, 0x10000u) << "other bits kept (masked)";
  auto again = vm_->create_vcpu(2);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::kExists);
  auto beyond = vm_->create_vcpu(256);
  ASSERT_FALSE(beyond);
  EXPECT_EQ(beyond.error().code(), Errc::kInvalidArgument);
}

TEST_F(MshvPartitionTest, RegistersBeforeTheFirstRunGoThroughHypercalls) {
  ASSERT_NO_FATAL_FAILURE(create_vm());
  auto vcpu = vm_->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  accel::Regs regs;
  regs.rax = 0x1111, regs.rbx = 0x2222, regs.rcx = 0x3333, regs.rdx = 0x4444;
  regs.rsi = 0x5555, regs.rdi = 0x6666, regs.rsp = 0x7777, regs.rbp = 0x8888;
  regs.r8 = 8, regs.r15 = 15, regs.rip = 0x9999, regs.rflags = 0x202;
  ASSERT_TRUE((*vcpu)->set_regs(regs));
  // The register page is not valid yet: only hypercalls reach the hypervisor.
  EXPECT_EQ(fake_.vp_register(0, kHvRegRax).low, 0x1111u);
  EXPECT_EQ(fake_.vp_register(0, kHvRegRbx).low, 0x2222u);
  EXPECT_EQ(fake_.vp_register(0, kHvRegRsp).low, 0x7777u);
  EXPECT_EQ(fake_.vp_register(0, kHvRegR8 + 7).low, 15u);
  EXPECT_EQ(fake_.vp_register(0, kHvRegRip).low, 0x9999u);
  auto back = (*vcpu)->get_regs();
  ASSERT_TRUE(back);
  EXPECT_EQ(back->rdi, 0x6666u);
  EXPECT_EQ(back->rbp, 0x8888u);
  EXPECT_EQ(back->rflags, 0x202u);
}

TEST_F(MshvPartitionTest, RegistersAfterAnInterceptGoThroughTheRegisterPage) {
  const uint8_t code[] = {0xe6, 0x80, 0xe6, 0x81, 0xf4};  // out al,0x80; out al,0x81; hlt
  ASSERT_NO_FATAL_FAILURE(boot(vmm::BootMode::kLong, code));
  RecordingGuestIo io;
  auto exit = vcpu_->run(io);
  ASSERT_TRUE(exit) << exit.error().message();
  ASSERT_EQ(io.accesses().size(), 1u);
  fake_.clear_calls();
  auto regs = vcpu_->get_regs();
  ASSERT_TRUE(regs);
  EXPECT_EQ(regs->rip, kEntry + 2) << "the intercept moved RIP past the OUT";
  regs->rax = 0xabcd;
  ASSERT_TRUE(vcpu_->set_regs(*regs));
  EXPECT_TRUE(fake_.call_names().empty()) << "no hypercall: the page is valid";
  EXPECT_EQ(fake_.vp_register(0, kHvRegRax).low, 0u) << "the hypervisor takes the page on entry";
  exit = vcpu_->run(io);
  ASSERT_TRUE(exit) << exit.error().message();
  EXPECT_EQ(fake_.vp_register(0, kHvRegRax).low, 0xabcdu);
  ASSERT_EQ(io.accesses().size(), 2u);
  EXPECT_EQ(io.accesses()[1].data, std::vector<uint8_t>{0xcd}) << "the OUT saw the new AL";
}

TEST_F(MshvPartitionTest, SpecialRegistersRoundTrip) {
  ASSERT_NO_FATAL_FAILURE(create_vm());
  auto vcpu = vm_->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  accel::SpecialRegs s;
  s.cs = {.base = 0,
          .limit = 0xffffffff,
          .selector = 8,
          .type = 0xb,
          .dpl = 0,
          .present = true,
          .s = true,
          .db = false,
          .l = true,
          .g = true};
  s.ds = s.es = s.fs = s.ss = {.base = 0,
                               .limit = 0xffffffff,
                               .selector = 0x18,
                               .type = 3,
                               .present = true,
                               .s = true,
                               .db = true,
                               .g = true};
  s.gs = s.ds;
  s.gs.base = 0xffff800000001000;
  s.tr = {.base = 0x5000, .limit = 0x67, .selector = 0x20, .type = 0xb, .present = true};
  s.ldt = {.unusable = true};
  s.gdt = {0x1000, 47};
  s.idt = {0x6000, 0xfff};
  s.cr0 = 0x80050033, s.cr3 = 0x2000, s.cr4 = 0x6a0, s.cr8 = 2, s.efer = 0x500;
  s.apic_base = 0xfee00900;
  ASSERT_TRUE((*vcpu)->set_special_regs(s));
  auto back = (*vcpu)->get_special_regs();
  ASSERT_TRUE(back);
  EXPECT_EQ(back->cs.l, true);
  EXPECT_EQ(back->cs.selector, 8);
  EXPECT_EQ(back->gs.base, 0xffff800000001000u);
  EXPECT_EQ(back->ds.db, true);
  EXPECT_EQ(back->tr.limit, 0x67u);
  EXPECT_EQ(back->tr.s, false);
  EXPECT_EQ(back->ldt.unusable, true);
  EXPECT_EQ(back->ldt.present, false);
  EXPECT_EQ(back->gdt.base, 0x1000u);
  EXPECT_EQ(back->idt.limit, 0xfff);
  EXPECT_EQ(back->cr0, 0x80050033u);
  EXPECT_EQ(back->cr8, 2u);
  EXPECT_EQ(back->efer, 0x500u);
  EXPECT_EQ(back->apic_base, 0xfee00900u);
  // The segment attributes as the hypervisor holds them.
  HvRegisterValue cs = fake_.vp_register(0, kHvRegCs);
  EXPECT_EQ(cs.high >> 48, 0xa09bu) << "G, L, P, S, type 0xb";
}

TEST_F(MshvPartitionTest, FpuRoundTripKeepsWhatAccelDoesNotModel) {
  ASSERT_NO_FATAL_FAILURE(create_vm());
  auto vcpu = vm_->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  fake_.set_vp_register(0, kHvRegFpControlStatus, {0x0123456700000000ull | 0x37f, 0x99});
  accel::FpuState fpu;
  fpu.xmm[3][0] = 0xaa;
  fpu.xmm[15][15] = 0xbb;
  fpu.mxcsr = 0x1fa0;
  fpu.fcw = 0x27f;
  ASSERT_TRUE((*vcpu)->set_fpu(fpu));
  auto back = (*vcpu)->get_fpu();
  ASSERT_TRUE(back);
  EXPECT_EQ(back->xmm[3][0], 0xaa);
  EXPECT_EQ(back->xmm[15][15], 0xbb);
  EXPECT_EQ(back->mxcsr, 0x1fa0u);
  EXPECT_EQ(back->fcw, 0x27f);
  HvRegisterValue control = fake_.vp_register(0, kHvRegFpControlStatus);
  EXPECT_EQ(control.low, 0x0123456700000000ull | 0x27f);
  EXPECT_EQ(control.high, 0x99u);
}

TEST_F(MshvPartitionTest, CpuidIsRegisteredAsInterceptResults) {
  ASSERT_NO_FATAL_FAILURE(create_vm());
  auto vcpu = vm_->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  const accel::CpuidEntry entries[] = {
      {0x1, 0, 0, 0x11, 0x22, 0x33, 0x44},
      {0x7, 1, accel::kCpuidSignificantIndex, 0x55, 0, 0, 0},
  };
  ASSERT_TRUE((*vcpu)->set_cpuid(entries));
  const CpuidRegs leaf1 = fake_.guest_cpuid(0, 1, 0);
  EXPECT_EQ(leaf1.eax, 0x11u);
  EXPECT_EQ(leaf1.edx, 0x44u) << "every bit overridden, none of the host's left";
  EXPECT_EQ(fake_.guest_cpuid(0, 1, 5).ebx, 0x22u) << "not subleaf-specific";
  EXPECT_EQ(fake_.guest_cpuid(0, 7, 1).eax, 0x55u);
  EXPECT_EQ(fake_.guest_cpuid(0, 7, 0).eax, 1u) << "subleaf 0 stays the host's";
}

TEST_F(MshvPartitionTest, SupportedCpuidIsTheHostsWithoutVmx) {
  ASSERT_NO_FATAL_FAILURE(create_vm());
  auto table = hypervisor_->supported_cpuid();
  ASSERT_TRUE(table);
  auto find = [&](uint32_t function, uint32_t index) -> const accel::CpuidEntry* {
    for (const auto& e : *table) {
      if (e.function == function && e.index == index) return &e;
    }
    return nullptr;
  };
  const accel::CpuidEntry* leaf1 = find(1, 0);
  ASSERT_NE(leaf1, nullptr);
  EXPECT_EQ(leaf1->ecx & (1u << 5), 0u) << "VMX";
  EXPECT_NE(leaf1->ecx & (1u << 31), 0u) << "hypervisor present";
  EXPECT_NE(leaf1->ecx & (1u << 21), 0u) << "x2APIC";
  ASSERT_NE(find(7, 1), nullptr);
  EXPECT_EQ(find(7, 1)->flags, accel::kCpuidSignificantIndex);
  EXPECT_NE(find(0xb, 1), nullptr);
  EXPECT_NE(find(0xb, 2), nullptr) << "up to and with the level of type 0";
  EXPECT_EQ(find(0xb, 3), nullptr);
  EXPECT_NE(find(0x80000008, 0), nullptr);
  EXPECT_EQ(find(0xc, 0), nullptr) << "beyond the host's maximum leaf";
}

TEST_F(MshvPartitionTest, WaitForSipiIsNotImplemented) {
  ASSERT_NO_FATAL_FAILURE(create_vm());
  auto vcpu = vm_->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  EXPECT_TRUE((*vcpu)->set_mp_state(accel::MpState::kRunnable));
  auto parked = (*vcpu)->set_mp_state(accel::MpState::kWaitForSipi);
  ASSERT_FALSE(parked);
  EXPECT_EQ(parked.error().code(), Errc::kUnsupported);
}

TEST_F(MshvPartitionTest, VfioBridgeDeviceIsProbedWithAClearAnswer) {
  ASSERT_NO_FATAL_FAILURE(create_vm());
  auto device = vm_->create_vfio_bridge();
  ASSERT_FALSE(device);
  EXPECT_EQ(device.error().code(), Errc::kUnsupported);
  EXPECT_THAT(device.error().message(), HasSubstr("no VFIO bridge device"));

  FakeMshvOptions options;
  options.vfio_device = true;
  FakeMshvDriver fake(options);
  auto hypervisor = MshvHypervisor::open(fake);
  ASSERT_TRUE(hypervisor);
  auto vm = (*hypervisor)->create_vm({});
  ASSERT_TRUE(vm);
  auto present = (*vm)->create_vfio_bridge();
  ASSERT_TRUE(present) << present.error().message();
  EXPECT_NE(*present, nullptr);
}

}  // namespace
}  // namespace ferry::test

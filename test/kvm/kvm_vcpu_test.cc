// KvmVcpu against a StrictMock of KvmSys: completing the instruction behind an MMIO or PIO exit
// the way KVM documents it (KVM_RUN with immediate_exit), before registers are read.
#include "kvm_vcpu.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "support/mock_accel.h"

namespace ferry::kvm {
namespace {

using test::MockGuestIo;
using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::InSequence;
using ::testing::Invoke;
using ::testing::StrictMock;

constexpr size_t kRunSize = 4096;

class MockKvmSys : public KvmSys {
 public:
  MOCK_METHOD(int, open_device, (const char*), (override));
  MOCK_METHOD(int, ioctl, (int, unsigned long, void*), (override));
  MOCK_METHOD(Expected<Mapping>, map, (int, size_t, off_t), (override));
};

class KvmVcpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    fd_ = fd.get();
    EXPECT_CALL(sys_, map(fd_, kRunSize, 0)).WillOnce(Invoke([this](int, size_t size, off_t) {
      auto mapping = Mapping::anonymous(size);
      if (mapping) run_ = reinterpret_cast<kvm_run*>(mapping->data());
      return mapping;
    }));
    auto created = KvmVcpu::create(sys_, std::move(fd), 0, kRunSize);
    ASSERT_TRUE(created) << created.error().message();
    vcpu_ = std::move(*created);
  }

  // The next KVM_RUN: checks immediate_exit on entry, then plays the kernel's part.
  template <class Kernel>
  void expect_run(bool immediate_exit, Kernel kernel) {
    EXPECT_CALL(sys_, ioctl(fd_, KVM_RUN, _))
        .WillOnce(Invoke([this, immediate_exit, kernel](int, unsigned long, void*) {
          EXPECT_EQ(run_->immediate_exit, immediate_exit ? 1 : 0);
          return kernel(*run_);
        }));
  }
  static auto mmio_exit(uint64_t gpa, uint32_t len, bool write, uint64_t data = 0) {
    return [=](kvm_run& run) {
      run.exit_reason = KVM_EXIT_MMIO;
      run.mmio.phys_addr = gpa;
      run.mmio.len = len;
      run.mmio.is_write = write;
      std::memcpy(run.mmio.data, &data, sizeof data);
      return 0;
    };
  }
  static auto interrupted() {
    return [](kvm_run&) { return -EINTR; };
  }

  StrictMock<MockKvmSys> sys_;
  StrictMock<MockGuestIo> io_;
  int fd_ = -1;
  kvm_run* run_ = nullptr;
  std::unique_ptr<KvmVcpu> vcpu_;
};

TEST_F(KvmVcpuTest, AnMmioReadIsCompletedWithImmediateExitBeforeTheRegistersAreRead) {
  InSequence order;
  expect_run(false, mmio_exit(0xfe000000, 4, false));
  EXPECT_CALL(io_, mmio_read(0xfe000000, _)).WillOnce(Invoke([](uint64_t, std::span<uint8_t> d) {
    ASSERT_EQ(d.size(), 4u);
    for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(0xa0 + i);
  }));
  // KVM takes the data from kvm_run, stores it, advances RIP, then sees immediate_exit.
  expect_run(true, [](kvm_run& run) {
    EXPECT_THAT(std::span<const uint8_t>(run.mmio.data, 4), ElementsAre(0xa0, 0xa1, 0xa2, 0xa3));
    return -EINTR;
  });
  EXPECT_CALL(sys_, ioctl(fd_, KVM_GET_REGS, _)).WillOnce(Invoke([](int, unsigned long, void* a) {
    static_cast<kvm_regs*>(a)->rip = 0x1003;
    return 0;
  }));

  auto exit = vcpu_->run(io_);
  ASSERT_TRUE(exit) << exit.error().message();
  EXPECT_EQ(exit->kind, accel::ExitKind::kHandled);
  auto completed = vcpu_->complete_pending_io(io_);
  ASSERT_TRUE(completed) << completed.error().message();
  EXPECT_EQ(run_->immediate_exit, 0) << "the next run() must enter the guest";
  auto regs = vcpu_->get_regs();
  ASSERT_TRUE(regs);
  EXPECT_EQ(regs->rip, 0x1003u);
}

TEST_F(KvmVcpuTest, APortWriteIsCompleted) {
  InSequence order;
  expect_run(false, [](kvm_run& run) {
    run.exit_reason = KVM_EXIT_IO;
    run.io.direction = KVM_EXIT_IO_OUT;
    run.io.size = 1;
    run.io.port = 0x80;
    run.io.count = 1;
    run.io.data_offset = 512;
    reinterpret_cast<uint8_t*>(&run)[512] = 0x5a;
    return 0;
  });
  EXPECT_CALL(io_, pio_write(0x80, ElementsAre(0x5a)));
  expect_run(true, interrupted());

  ASSERT_TRUE(vcpu_->run(io_));
  ASSERT_TRUE(vcpu_->complete_pending_io(io_));
}

TEST_F(KvmVcpuTest, AnAccessAcrossPagesIsServedPieceByPieceWhileItIsCompleted) {
  InSequence order;
  expect_run(false, mmio_exit(0xfe000ffe, 2, true, 0x2211));
  EXPECT_CALL(io_, mmio_write(0xfe000ffe, ElementsAre(0x11, 0x22)));
  // Re-entered to complete, KVM exits again for the second piece before it can finish.
  expect_run(true, mmio_exit(0xfe001000, 2, true, 0x4433));
  EXPECT_CALL(io_, mmio_write(0xfe001000, ElementsAre(0x33, 0x44)));
  expect_run(true, interrupted());

  ASSERT_TRUE(vcpu_->run(io_));
  auto completed = vcpu_->complete_pending_io(io_);
  ASSERT_TRUE(completed) << completed.error().message();
  EXPECT_EQ(run_->immediate_exit, 0);
}

TEST_F(KvmVcpuTest, NothingIsPendingAfterOtherExitsOrACompletion) {
  InSequence order;
  expect_run(false, [](kvm_run& run) {
    run.exit_reason = KVM_EXIT_HLT;
    return 0;
  });
  // The strict mock fails on any KVM_RUN the completions below would make.
  ASSERT_TRUE(vcpu_->complete_pending_io(io_)) << "a vCPU that never ran";
  ASSERT_TRUE(vcpu_->run(io_));
  ASSERT_TRUE(vcpu_->complete_pending_io(io_)) << "after a HLT exit";

  expect_run(false, mmio_exit(0xfe000000, 1, true, 0x7));
  EXPECT_CALL(io_, mmio_write(0xfe000000, ElementsAre(0x7)));
  expect_run(true, interrupted());
  ASSERT_TRUE(vcpu_->run(io_));
  ASSERT_TRUE(vcpu_->complete_pending_io(io_));
  ASSERT_TRUE(vcpu_->complete_pending_io(io_)) << "a second time";
}

TEST_F(KvmVcpuTest, ACompletionKvmCannotEmulateIsAnErrorWithARegisterDump) {
  InSequence order;
  expect_run(false, mmio_exit(0xfe000000, 8, false));
  EXPECT_CALL(io_, mmio_read(0xfe000000, _));
  expect_run(true, [](kvm_run& run) {
    run.exit_reason = KVM_EXIT_INTERNAL_ERROR;
    run.internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
    run.internal.ndata = 0;
    return 0;
  });
  EXPECT_CALL(sys_, ioctl(fd_, KVM_GET_REGS, _)).WillOnce(Invoke([](int, unsigned long, void*) {
    return 0;
  }));
  EXPECT_CALL(sys_, ioctl(fd_, KVM_GET_SREGS, _)).WillOnce(Invoke([](int, unsigned long, void*) {
    return 0;
  }));

  ASSERT_TRUE(vcpu_->run(io_));
  auto completed = vcpu_->complete_pending_io(io_);
  ASSERT_FALSE(completed);
  EXPECT_THAT(completed.error().message(), HasSubstr("KVM could not emulate an instruction"));
  EXPECT_THAT(completed.error().message(), HasSubstr("rip="));
}

// The lab's table (nested kvm-amd under QEMU's EPYC): x87, SSE and AVX, XSAVE in CPUID.1.
std::vector<accel::CpuidEntry> xsave_table() {
  return {{.function = 0x1,
           .index = 0,
           .flags = 0,
           .eax = 0x830f10,
           .ebx = 0,
           .ecx = 1u << 26,
           .edx = 0},
          {.function = 0xd,
           .index = 0,
           .flags = accel::kCpuidSignificantIndex,
           .eax = 0x7,
           .ebx = 0x340,
           .ecx = 0x340,
           .edx = 0},
          {.function = 0xd,
           .index = 1,
           .flags = accel::kCpuidSignificantIndex,
           .eax = 0x5,
           .ebx = 0,
           .ecx = 0,
           .edx = 0}};
}

TEST(XcrOffered, IsEveryComponentOfLeaf0xDWithXsaveAndNothingWithout) {
  auto table = xsave_table();
  EXPECT_EQ(xcr0_offered(table), 0x7u);
  table[1].edx = 0x1;  // a component above bit 31
  EXPECT_EQ(xcr0_offered(table), 0x1'0000'0007u);
  table[0].ecx = 0;
  EXPECT_EQ(xcr0_offered(table), 0u) << "no XSAVE in CPUID.1";
  EXPECT_EQ(xcr0_offered({}), 0u);
}

// KVM computes CPUID 0xD.0 EBX from its record of XCR0, at KVM_SET_CPUID2 and at XCR0 changes it
// sees. XCR0 goes in after the table (KVM refuses components the vCPU's CPUID lacks).
TEST_F(KvmVcpuTest, SetCpuidThenTurnsOnEveryOfferedComponentInXcr0) {
  InSequence order;
  EXPECT_CALL(sys_, ioctl(fd_, kKvmSetCpuid2, _)).WillOnce(Invoke([](int, unsigned long, void* p) {
    EXPECT_EQ(static_cast<KvmCpuidHeader*>(p)->nent, 3u);
    return 0;
  }));
  EXPECT_CALL(sys_, ioctl(fd_, KVM_SET_XCRS, _)).WillOnce(Invoke([](int, unsigned long, void* p) {
    const auto* xcrs = static_cast<kvm_xcrs*>(p);
    EXPECT_EQ(xcrs->nr_xcrs, 1u);
    EXPECT_EQ(xcrs->flags, 0u);
    EXPECT_EQ(xcrs->xcrs[0].xcr, 0u);
    EXPECT_EQ(xcrs->xcrs[0].value, 0x7u);
    return 0;
  }));
  const auto table = xsave_table();
  ASSERT_TRUE(vcpu_->set_cpuid(table));
}

TEST_F(KvmVcpuTest, SetCpuidWithoutXsaveLeavesXcr0Alone) {
  auto table = xsave_table();
  table[0].ecx = 0;
  EXPECT_CALL(sys_, ioctl(fd_, kKvmSetCpuid2, _)).WillOnce(Invoke([](int, unsigned long, void*) {
    return 0;
  }));  // and no KVM_SET_XCRS: the strict mock fails on it
  ASSERT_TRUE(vcpu_->set_cpuid(table));
}

TEST_F(KvmVcpuTest, ARefusedXcr0IsAnErrorNamingIt) {
  EXPECT_CALL(sys_, ioctl(fd_, kKvmSetCpuid2, _)).WillOnce(Invoke([](int, unsigned long, void*) {
    return 0;
  }));
  EXPECT_CALL(sys_, ioctl(fd_, KVM_SET_XCRS, _)).WillOnce(Invoke([](int, unsigned long, void*) {
    return -EINVAL;
  }));
  const auto table = xsave_table();
  auto set = vcpu_->set_cpuid(table);
  ASSERT_FALSE(set);
  EXPECT_THAT(set.error().message(), HasSubstr("KVM_SET_XCRS (XCR0 0x7)"));
}

}  // namespace
}  // namespace ferry::kvm

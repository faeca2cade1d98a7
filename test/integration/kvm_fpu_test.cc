// SSE state set through lib/kvm reaches the guest, also on a vCPU that never ran.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "long_mode_program.h"
#include "support/kvm_required.h"
#include "support/recording_guest_io.h"

namespace ferry::test {
namespace {

// Stores XMM3 to MMIO and leaves. (Not stmxcsr as well: this PVM host's instruction emulator,
// which runs these guests, has no stmxcsr; MXCSR is checked by reading it back instead.)
constexpr uint8_t kProgram[] = {
    0xb8, 0x00, 0x00, 0x00, 0xfe,  // mov $0xfe000000, %eax
    0xf3, 0x0f, 0x7f, 0x18,        // movdqu %xmm3, (%rax)
    0xe6, 0xf4,                    // out %al, $0xf4
};

TEST(KvmFpu, XmmAndMxcsrSetBeforeTheFirstRunReachTheGuest) {
  FERRY_REQUIRE_KVM();
  auto program = load_long_mode_program(kProgram);
  ASSERT_TRUE(program) << program.error().message();
  accel::Vcpu& vcpu = *program->vcpu;

  accel::FpuState fpu;
  for (uint8_t i = 0; i < 16; ++i) fpu.xmm[3][i] = static_cast<uint8_t>(0xa0 + i);
  fpu.mxcsr = 0x1f80 | 0x6000;  // round toward zero
  auto set = vcpu.set_fpu(fpu);
  ASSERT_TRUE(set) << set.error().message();
  auto read_back = vcpu.get_fpu();
  ASSERT_TRUE(read_back);
  EXPECT_EQ(read_back->xmm[3], fpu.xmm[3]);
  EXPECT_EQ(read_back->mxcsr, fpu.mxcsr);

  RecordingGuestIo io;
  for (int exits = 0; exits < 10; ++exits) {
    auto exit = vcpu.run(io);
    ASSERT_TRUE(exit) << exit.error().message();
    auto accesses = io.accesses();
    if (!accesses.empty() && accesses.back().kind == IoAccess::Kind::kPioWrite) break;
  }
  std::vector<uint8_t> stored;
  for (const IoAccess& a : io.accesses()) {
    if (a.kind == IoAccess::Kind::kMmioWrite)
      stored.insert(stored.end(), a.data.begin(), a.data.end());
  }
  ASSERT_EQ(stored.size(), 16u);
  EXPECT_EQ(0, std::memcmp(stored.data(), fpu.xmm[3].data(), 16)) << "the guest saw other XMM3";
}

}  // namespace
}  // namespace ferry::test

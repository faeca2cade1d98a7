// ioeventfds on real KVM: a matching guest write signals the eventfd inside the kernel and never
// reaches the VMM; a write that does not match is an ordinary exit.
#include <gtest/gtest.h>

#include "ferry/base/event_fd.h"
#include "long_mode_program.h"
#include "support/kvm_required.h"
#include "support/recording_guest_io.h"

namespace ferry::test {
namespace {

// Three port writes to 0x510 (values 1, 2, 1) and three dword MMIO writes to 0xfe000000
// (values 7, 8, 7), then out to 0xf4.
constexpr uint8_t kProgram[] = {
    0x66, 0xba, 0x10, 0x05,              // mov $0x510, %dx
    0xb0, 0x01, 0xee,                    // mov $1, %al; out %al, (%dx)
    0xb0, 0x02, 0xee,                    // mov $2, %al; out %al, (%dx)
    0xb0, 0x01, 0xee,                    // mov $1, %al; out %al, (%dx)
    0xbb, 0x00, 0x00, 0x00, 0xfe,        // mov $0xfe000000, %ebx
    0xc7, 0x03, 0x07, 0x00, 0x00, 0x00,  // movl $7, (%rbx)
    0xc7, 0x03, 0x08, 0x00, 0x00, 0x00,  // movl $8, (%rbx)
    0xc7, 0x03, 0x07, 0x00, 0x00, 0x00,  // movl $7, (%rbx)
    0xe6, 0xf4,                          // out %al, $0xf4
};

TEST(KvmIoeventfd, MatchingWritesSignalTheEventfdWithoutAnExit) {
  FERRY_REQUIRE_KVM();
  auto program = load_long_mode_program(kProgram);
  ASSERT_TRUE(program) << program.error().message();
  accel::Vm& vm = *program->vm;
  accel::Vcpu& vcpu = *program->vcpu;

  auto port_fd = EventFd::create();
  auto mmio_fd = EventFd::create();
  ASSERT_TRUE(port_fd && mmio_fd);
  const accel::IoEventFd port_event{accel::IoSpace::kPio, 0x510, 1, 1, port_fd->fd()};
  const accel::IoEventFd mmio_event{accel::IoSpace::kMmio, 0xfe000000, 4, 7, mmio_fd->fd()};
  auto registered = vm.register_ioeventfd(port_event);
  ASSERT_TRUE(registered) << registered.error().message();
  ASSERT_TRUE(vm.register_ioeventfd(mmio_event));
  auto twice = vm.register_ioeventfd(port_event);
  ASSERT_FALSE(twice) << "the same ioeventfd twice must be refused";

  RecordingGuestIo io;
  for (int exits = 0; exits < 20; ++exits) {
    auto exit = vcpu.run(io);
    ASSERT_TRUE(exit) << exit.error().message();
    auto accesses = io.accesses();
    if (!accesses.empty() && accesses.back().address == 0xf4) break;
  }
  // Only the writes that did not match came to the VMM.
  const std::vector<IoAccess> expected = {
      {IoAccess::Kind::kPioWrite, 0x510, {2}},
      {IoAccess::Kind::kMmioWrite, 0xfe000000, {8, 0, 0, 0}},
      {IoAccess::Kind::kPioWrite, 0xf4, {1}},  // al still holds the last port value
  };
  EXPECT_EQ(io.accesses(), expected);
  EXPECT_EQ(*port_fd->drain(), 2u);
  EXPECT_EQ(*mmio_fd->drain(), 2u);

  ASSERT_TRUE(vm.unregister_ioeventfd(port_event));
  auto again = vm.unregister_ioeventfd(port_event);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message().find("KVM_IOEVENTFD deassign port 0x510/1"), std::string::npos)
      << again.error().message();
}

}  // namespace
}  // namespace ferry::test

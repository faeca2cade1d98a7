// The MSHV run loop on scripted guests: the fake executes port I/O instructions from guest memory
// and sends the intercepts the hypervisor would; the backend must turn them into the right GuestIo
// traffic and registers. Also the other messages, malformed ones, kicks, and the MMIO seam.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "ferry/mshv/mmio_emulator.h"
#include "mshv_backend_test.h"

namespace ferry::test {
namespace {

using namespace mshv;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = IoAccess::Kind;

IoAccess pio_write(uint16_t port, std::vector<uint8_t> data) {
  return {Kind::kPioWrite, port, std::move(data)};
}
IoAccess pio_read(uint16_t port, std::vector<uint8_t> data) {
  return {Kind::kPioRead, port, std::move(data)};
}

class MshvRunTest : public MshvBackendTest {
 protected:
  Error run_error(RecordingGuestIo& io) {
    for (int i = 0; i < 10; ++i) {
      auto exit = vcpu_->run(io);
      if (!exit) return exit.error();
    }
    ADD_FAILURE() << "the run did not fail";
    return Error(Errc::kInternal, "");
  }
  // A raw message of `type` with `payload` as the VP would return it.
  template <class T>
  static FakeGuestEvent message(uint32_t type, const T& payload, uint8_t payload_size = sizeof(T)) {
    std::vector<uint8_t> bytes(256);
    HvMessageHeader header{};
    header.message_type = type;
    header.payload_size = payload_size;
    std::memcpy(bytes.data(), &header, sizeof header);
    std::memcpy(bytes.data() + sizeof header, &payload, sizeof payload);
    return FakeGuestEvent::raw(std::move(bytes));
  }

  // Linear 512 GiB (PML4 entry 1) -> a PDPT at 0x9000 whose entry 0 is a 1 GiB page at
  // guest-physical 0, with its accessed and dirty bits clear.
  void map_512_gib_window() {
    const uint64_t pml4_1 = kWindowPdpt | 3;
    const uint64_t pdpt_0 = 0x0 | 0x83;
    ASSERT_NO_FATAL_FAILURE(write(0x2008, {reinterpret_cast<const uint8_t*>(&pml4_1), 8}));
    ASSERT_NO_FATAL_FAILURE(write(kWindowPdpt, {reinterpret_cast<const uint8_t*>(&pdpt_0), 8}));
  }
  static constexpr uint64_t kWindowPdpt = 0x9000;

  RecordingGuestIo io_;
};

TEST_F(MshvRunTest, OutOfEachSize) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong,
                                {0xe6, 0x80, 0x66, 0xe7, 0x82, 0xe7, 0x84, 0xee, 0xf4},
                                [](accel::Regs& r) { r.rax = 0x1122334455667788, r.rdx = 0x3f8; }));
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_THAT(io_.accesses(),
              ElementsAre(pio_write(0x80, {0x88}), pio_write(0x82, {0x88, 0x77}),
                          pio_write(0x84, {0x88, 0x77, 0x66, 0x55}), pio_write(0x3f8, {0x88})));
  EXPECT_EQ(regs().rip, kEntry + 8);
  EXPECT_EQ(regs().rax, 0x1122334455667788u);
}

TEST_F(MshvRunTest, InMergesIntoRaxAndA32BitInZeroExtends) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0xe4, 0x60, 0xf4},
                                [](accel::Regs& r) { r.rax = 0x1122334455667788; }));
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_EQ(regs().rax, 0x1122334455667741u);
  EXPECT_THAT(io_.accesses(), ElementsAre(pio_read(0x60, {0x41})));
}

TEST_F(MshvRunTest, InOfEachSize) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0x66, 0xe5, 0x61, 0xed, 0xf4},
                                [](accel::Regs& r) { r.rax = 0x1122334455667788, r.rdx = 0xcfc; }));
  auto exit = vcpu_->run(io_);
  ASSERT_TRUE(exit);
  EXPECT_EQ(regs().rax, 0x1122334455664241u) << "16-bit IN merges";
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_EQ(regs().rax, 0x46454443u) << "32-bit IN zero-extends";
  EXPECT_THAT(io_.accesses(),
              ElementsAre(pio_read(0x61, {0x41, 0x42}), pio_read(0xcfc, {0x43, 0x44, 0x45, 0x46})));
}

TEST_F(MshvRunTest, RepOutsbForward) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0xf3, 0x6e, 0xf4},
                                [](accel::Regs& r) { r.rsi = 0x20000, r.rcx = 3, r.rdx = 0x3f8; }));
  const uint8_t text[] = {'a', 'b', 'c'};
  ASSERT_NO_FATAL_FAILURE(write(0x20000, text));
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_THAT(io_.accesses(), ElementsAre(pio_write(0x3f8, {'a'}), pio_write(0x3f8, {'b'}),
                                          pio_write(0x3f8, {'c'})));
  EXPECT_EQ(regs().rsi, 0x20003u);
  EXPECT_EQ(regs().rcx, 0u);
  EXPECT_EQ(regs().rip, kEntry + 2);
}

TEST_F(MshvRunTest, RepOutswBackwardWithTheDirectionFlag) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0xf3, 0x66, 0x6f, 0xf4}, [](accel::Regs& r) {
    r.rsi = 0x20004, r.rcx = 3, r.rdx = 0x70, r.rflags = 0x402;
  }));
  const uint8_t words[] = {1, 2, 3, 4, 5, 6};
  ASSERT_NO_FATAL_FAILURE(write(0x20000, words));
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_THAT(io_.accesses(), ElementsAre(pio_write(0x70, {5, 6}), pio_write(0x70, {3, 4}),
                                          pio_write(0x70, {1, 2})));
  EXPECT_EQ(regs().rsi, 0x1fffeu);
}

TEST_F(MshvRunTest, RepInsbFillsGuestMemory) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0xf3, 0x6c, 0xf4},
                                [](accel::Regs& r) { r.rdi = 0x21000, r.rcx = 4, r.rdx = 0x1f0; }));
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_EQ(read(0x21000, 5), (std::vector<uint8_t>{0x41, 0x42, 0x43, 0x44, 0}));
  EXPECT_EQ(regs().rdi, 0x21004u);
}

TEST_F(MshvRunTest, ALongRepRunsInBatchesWithRipOnTheInstruction) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0xf3, 0x6e, 0xf4}, [](accel::Regs& r) {
    r.rsi = 0x100000, r.rcx = 2500, r.rdx = 0x3f8;
  }));
  auto exit = vcpu_->run(io_);
  ASSERT_TRUE(exit);
  EXPECT_EQ(io_.accesses().size(), 1024u);
  EXPECT_EQ(regs().rip, kEntry) << "the guest executes the rest of the REP again";
  EXPECT_EQ(regs().rcx, 2500u - 1024);
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_EQ(io_.accesses().size(), 2500u);
  EXPECT_EQ(regs().rcx, 0u);
  EXPECT_EQ(regs().rsi, 0x100000u + 2500);
  EXPECT_EQ(fake_.runs(0), 4u) << "three intercepts and the halt";
}

TEST_F(MshvRunTest, ZeroCountRepTouchesNothing) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0xf3, 0x6e, 0xf4},
                                [](accel::Regs& r) { r.rsi = 0x20000, r.rcx = 0, r.rdx = 0x3f8; }));
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_TRUE(io_.accesses().empty());
  EXPECT_EQ(regs().rip, kEntry + 2);
}

TEST_F(MshvRunTest, AddressSizeOverrideUsesAndZeroExtendsTheLow32Bits) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0x67, 0xf3, 0x6e, 0xf4}, [](accel::Regs& r) {
    r.rsi = 0xabcd000000020000, r.rcx = 0xffffffff00000002, r.rdx = 0x3f8;
  }));
  const uint8_t text[] = {'x', 'y'};
  ASSERT_NO_FATAL_FAILURE(write(0x20000, text));
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_THAT(io_.accesses(), ElementsAre(pio_write(0x3f8, {'x'}), pio_write(0x3f8, {'y'})));
  EXPECT_EQ(regs().rsi, 0x20002u);
  EXPECT_EQ(regs().rcx, 0u);
}

TEST_F(MshvRunTest, FsOverrideReadsThroughTheFsBase) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kProtected, {0x64, 0x6e, 0xf4},
                                [](accel::Regs& r) { r.rsi = 0x10, r.rdx = 0x3f8; }));
  auto sregs = vcpu_->get_special_regs();
  ASSERT_TRUE(sregs);
  sregs->fs.base = 0x30000;
  ASSERT_TRUE(vcpu_->set_special_regs(*sregs));
  const uint8_t byte[] = {0x5a};
  ASSERT_NO_FATAL_FAILURE(write(0x30010, byte));
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_THAT(io_.accesses(), ElementsAre(pio_write(0x3f8, {0x5a})));
  EXPECT_EQ(regs().rsi, 0x11u);
}

TEST_F(MshvRunTest, RealModeIndexRegistersWrapAt64KiB) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kReal, {0xf3, 0x6e, 0xf4}, [](accel::Regs& r) {
    r.rsi = 0x1234ffff, r.rcx = 0x56780002, r.rdx = 0x3f8;
  }));
  const uint8_t last[] = {0x11};
  const uint8_t first[] = {0x22};
  ASSERT_NO_FATAL_FAILURE(write(0xffff, last));
  ASSERT_NO_FATAL_FAILURE(write(0x0, first));
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_THAT(io_.accesses(), ElementsAre(pio_write(0x3f8, {0x11}), pio_write(0x3f8, {0x22})));
  EXPECT_EQ(regs().rsi, 0x12340001u) << "SI wraps, the upper bits stay";
  EXPECT_EQ(regs().rcx, 0x56780000u);
}

TEST_F(MshvRunTest, StringIoTranslatesThroughTheGuestPageTables) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0xf3, 0x6e, 0xf4}, [](accel::Regs& r) {
    r.rsi = 0x8000020000, r.rcx = 2, r.rdx = 0x3f8;  // 512 GiB up: PML4 entry 1
  }));
  ASSERT_NO_FATAL_FAILURE(map_512_gib_window());
  const uint8_t text[] = {'p', 'q'};
  ASSERT_NO_FATAL_FAILURE(write(0x20000, text));
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_THAT(io_.accesses(), ElementsAre(pio_write(0x3f8, {'p'}), pio_write(0x3f8, {'q'})));
}

TEST_F(MshvRunTest, StringIoThroughPageTablesSetsAccessedAndDirtyBits) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0xf3, 0x6c, 0xf4}, [](accel::Regs& r) {
    r.rdi = 0x8000021000, r.rcx = 2, r.rdx = 0x1f0;  // 512 GiB up: PML4 entry 1
  }));
  ASSERT_NO_FATAL_FAILURE(map_512_gib_window());
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_EQ(read(0x21000, 2), (std::vector<uint8_t>{0x41, 0x42}));
  uint64_t leaf = 0;
  std::memcpy(&leaf, read(kWindowPdpt, 8).data(), 8);
  EXPECT_EQ(leaf & 0x60, 0x60u) << "INS writes memory: the leaf must be accessed and dirty";
}

TEST_F(MshvRunTest, StringIoWrapsAt4GiBOutsideLongMode) {
  // insd at EDI 0xfffffffe, paging off: two bytes at the top of the 4 GiB space, two at 0.
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kProtected, {0x6d, 0xf4},
                                [](accel::Regs& r) { r.rdi = 0xfffffffe, r.rdx = 0x1f0; }));
  alignas(4096) static std::array<uint8_t, 4096> top_page{};
  auto mapped = vm_->map_memory(0xfffff000, top_page.size(), top_page.data(), true);
  ASSERT_TRUE(mapped) << mapped.error().message();
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_EQ(top_page[0xffe], 0x41);
  EXPECT_EQ(top_page[0xfff], 0x42);
  EXPECT_EQ(read(0, 2), (std::vector<uint8_t>{0x43, 0x44}));
}

TEST_F(MshvRunTest, OutsFromAnUnmappedAddressIsAnError) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0x6e, 0xf4}, [](accel::Regs& r) {
    r.rsi = 0xc0000000, r.rdx = 0x3f8;  // the 3-4 GiB hole: not RAM
  }));
  Error error = run_error(io_);
  EXPECT_EQ(error.code(), Errc::kGuestFault);
  EXPECT_THAT(error.message(), HasSubstr("OUTS at RIP 0x10000"));
  EXPECT_THAT(error.message(), HasSubstr("not guest RAM"));
  EXPECT_THAT(error.message(), HasSubstr("rip=0000000000010000")) << "with a register dump";
}

TEST_F(MshvRunTest, OtherMessages) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0xeb, 0xfe}, [](accel::Regs&) {}));
  fake_.play(0, FakeGuestEvent::raw(std::vector<uint8_t>(256, 0)));  // HVMSG_NONE
  auto exit = vcpu_->run(io_);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->kind, accel::ExitKind::kHandled);
  fake_.play(0, FakeGuestEvent::triple_fault());
  exit = vcpu_->run(io_);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->kind, accel::ExitKind::kReset);
  fake_.play(0, FakeGuestEvent::halt());
  exit = vcpu_->run(io_);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->kind, accel::ExitKind::kHalt);
}

TEST_F(MshvRunTest, MalformedMessagesAreClearErrors) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0xeb, 0xfe}, [](accel::Regs&) {}));
  HvX64IoPortInterceptMessage io{};
  io.header.instruction_length_cr8 = 2;
  io.access_info = 1;
  fake_.play(0, message(kHvMessageX64IoPortIntercept, io, 100));
  EXPECT_THAT(run_error(io_).message(), HasSubstr("100-byte payload; it needs 128"));

  io.access_info = 3;
  fake_.play(0, message(kHvMessageX64IoPortIntercept, io));
  EXPECT_THAT(run_error(io_).message(), HasSubstr("access size 3"));

  io.access_info = 1;
  io.instruction_byte_count = 17;
  fake_.play(0, message(kHvMessageX64IoPortIntercept, io));
  EXPECT_THAT(run_error(io_).message(), HasSubstr("claims 17 instruction bytes"));

  io.instruction_byte_count = 2;
  io.header.instruction_length_cr8 = 0;
  fake_.play(0, message(kHvMessageX64IoPortIntercept, io));
  EXPECT_THAT(run_error(io_).message(), HasSubstr("without an instruction length"));

  io.header.instruction_length_cr8 = 1;
  io.access_info = 1 | kIoStringOp;
  io.instruction_bytes[0] = 0x90;
  fake_.play(0, message(kHvMessageX64IoPortIntercept, io));
  EXPECT_THAT(run_error(io_).message(), HasSubstr("not INS or OUTS"));

  io.instruction_bytes[0] = 0x6c;  // INS, but the message says a write
  io.header.intercept_access_type = kHvAccessWrite;
  fake_.play(0, message(kHvMessageX64IoPortIntercept, io));
  EXPECT_THAT(run_error(io_).message(), HasSubstr("the message says a 1-byte OUTS"));

  fake_.play(0, message(kHvMessageX64ApicEoi, HvX64ApicEoiMessage{0, 300}));
  EXPECT_THAT(run_error(io_).message(), HasSubstr("vector 300"));

  fake_.play(0, message(0x80001234u, uint64_t{0}));
  Error unknown = run_error(io_);
  EXPECT_THAT(unknown.message(), HasSubstr("message type 0x80001234 (unknown)"));
  fake_.play(0, message(kHvMessageX64CpuidIntercept, HvX64CpuidInterceptMessage{}));
  EXPECT_THAT(run_error(io_).message(), HasSubstr("X64_CPUID_INTERCEPT"));
  EXPECT_TRUE(io_.accesses().empty());
}

TEST(MshvRun, AKernelWithoutRunVpIsNamed) {
  FakeMshvOptions options = fake_options_with_host_cpuid();
  options.unknown_requests = {kMshvRunVp};
  FakeMshvDriver fake(options);
  auto hypervisor = MshvHypervisor::open(fake);
  ASSERT_TRUE(hypervisor);
  auto vm = (*hypervisor)->create_vm({});
  ASSERT_TRUE(vm);
  auto vcpu = (*vm)->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  RecordingGuestIo io;
  auto exit = (*vcpu)->run(io);
  ASSERT_FALSE(exit);
  EXPECT_EQ(exit.error().code(), Errc::kUnsupported);
  EXPECT_THAT(exit.error().message(), HasSubstr("does not know MSHV_RUN_VP"));
}

TEST_F(MshvRunTest, RequestExitBeforeTheRunDoesNotEnterTheGuest) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0xeb, 0xfe}, [](accel::Regs&) {}));
  vcpu_->request_exit();
  auto exit = vcpu_->run(io_);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->kind, accel::ExitKind::kInterrupted);
  EXPECT_EQ(fake_.runs(0), 0u);
}

TEST_F(MshvRunTest, ASignalKicksAWaitingRun) {
  struct sigaction action {};
  action.sa_handler = [](int) {};
  sigemptyset(&action.sa_mask);
  ASSERT_EQ(sigaction(SIGRTMIN, &action, nullptr), 0);  // no SA_RESTART, as VcpuRunner installs
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0xeb, 0xfe}, [](accel::Regs&) {}));
  std::atomic<bool> done{false};
  Expected<accel::Exit> exit = accel::Exit{};
  std::thread runner([&] {
    exit = vcpu_->run(io_);
    done = true;
  });
  while (fake_.runs(0) == 0) std::this_thread::yield();
  for (int i = 0; i < 1000 && !done; ++i) {
    pthread_kill(runner.native_handle(), SIGRTMIN);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  runner.join();
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->kind, accel::ExitKind::kInterrupted);
}

// --- memory intercepts
// -----------------------------------------------------------------------------

// mov eax, [0xfeb00000]
const std::vector<uint8_t> kMmioLoad = {0x8b, 0x04, 0x25, 0x00, 0x00, 0xb0, 0xfe, 0xf4};

// A stand-in for lib/x86 that records what the seam hands it and finishes the instruction the
// simplest way: a 4-byte MMIO read into EAX and RIP past 7 bytes. (mshv_mmio_test.cc runs the
// real emulator.)
class RecordingEmulator final : public MmioEmulator {
 public:
  Expected<void> emulate(const MemoryIntercept& intercept, VpContext& vp,
                         accel::GuestIo& io) noexcept override {
    gpa = intercept.gpa;
    gva = intercept.gva;
    access_type = intercept.access_type;
    message_type = intercept.message_type;
    bytes.assign(intercept.instruction.begin(), intercept.instruction.end());
    uint8_t data[4];
    io.mmio_read(intercept.gpa.value_or(0), data);
    const uint32_t names[] = {kHvRegRax, kHvRegRip};
    uint32_t value;
    std::memcpy(&value, data, 4);
    const uint64_t values[] = {value, intercept.rip + 7};
    return vp.write_registers(names, values);
  }
  std::optional<uint64_t> gpa;
  std::optional<uint64_t> gva;
  uint8_t access_type = 0xff;
  uint32_t message_type = 0;
  std::vector<uint8_t> bytes;
};

TEST_F(MshvRunTest, TheSeamGetsTheMessagesGpaAndBytes) {
  auto emulator = std::make_shared<RecordingEmulator>();
  ASSERT_NO_FATAL_FAILURE(create_vm({.mmio_emulator = emulator}));
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, kMmioLoad, [](accel::Regs&) {}));
  fake_.annotate_mmio(kEntry, {.gpa = 0xfeb00000, .gva = 0xfeb00000, .instruction_bytes = 7});
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_EQ(emulator->gpa, 0xfeb00000u);
  EXPECT_EQ(emulator->gva, 0xfeb00000u);
  EXPECT_EQ(emulator->bytes, std::vector<uint8_t>(kMmioLoad.begin(), kMmioLoad.begin() + 7));
  EXPECT_THAT(io_.accesses(),
              ElementsAre(IoAccess{Kind::kMmioRead, 0xfeb00000, {0x41, 0x42, 0x43, 0x44}}));
  EXPECT_EQ(regs().rax, 0x44434241u);
  EXPECT_EQ(emulator->access_type, kHvAccessRead);
  EXPECT_EQ(emulator->message_type, kHvMessageUnmappedGpa);
}

TEST_F(MshvRunTest, AWriteToReadOnlyMemoryIsAGpaIntercept) {
  auto emulator = std::make_shared<RecordingEmulator>();
  ASSERT_NO_FATAL_FAILURE(create_vm({.mmio_emulator = emulator}));
  // mov [0x400000], eax: guest RAM the VM maps read-only (a ROM).
  const std::vector<uint8_t> store = {0x89, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0xf4};
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, store, [](accel::Regs&) {}));
  auto rom = Mapping::anonymous(kHvPageSize);
  ASSERT_TRUE(rom);
  ASSERT_TRUE(vm_->map_memory(0x400000, kHvPageSize, rom->data(), false));
  fake_.annotate_mmio(kEntry, {.gpa = 0x400000, .gva = 0x400000, .write = true});
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_EQ(emulator->access_type, kHvAccessWrite);
  EXPECT_EQ(emulator->message_type, kHvMessageGpaIntercept);
  EXPECT_EQ(emulator->gpa, 0x400000u);
}

TEST_F(MshvRunTest, WithoutAValidGpaTheSeamGetsOnlyWhatTheHypervisorVouchesFor) {
  auto emulator = std::make_shared<RecordingEmulator>();
  ASSERT_NO_FATAL_FAILURE(create_vm({.mmio_emulator = emulator}));
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, kMmioLoad, [](accel::Regs&) {}));
  // The hypervisor does not vouch for the GPA and sends no instruction bytes: translating the GVA
  // and fetching the instruction are the emulator's (it can then fault as the CPU would).
  fake_.annotate_mmio(
      kEntry, {.gpa = 0x1234000, .gva = 0xfeb00010, .gpa_valid = false, .instruction_bytes = 0});
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_EQ(emulator->gpa, std::nullopt);
  EXPECT_EQ(emulator->gva, 0xfeb00010u);
  EXPECT_TRUE(emulator->bytes.empty());
}

TEST_F(MshvRunTest, AMemoryInterceptDuringEventDeliveryIsAClearError) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, kMmioLoad, [](accel::Regs&) {}));
  // The guest's IDT is in MMIO: the hypervisor intercepts the vector fetch with an interruption
  // pending. There is no instruction to emulate.
  HvX64MemoryInterceptMessage m{};
  m.header.rip = kEntry;
  m.header.execution_state = kExecCr0Pe | kExecEferLma | kExecInterruptionPending;
  m.memory_access_info = kMemAccessGvaValid | kMemAccessGvaGpaValid;
  m.guest_virtual_address = m.guest_physical_address = 0xfeb00e00;
  fake_.play(0, message(kHvMessageUnmappedGpa, m));
  Error error = run_error(io_);
  EXPECT_EQ(error.code(), Errc::kUnsupported);
  EXPECT_THAT(error.message(), HasSubstr("delivering an interrupt or exception"));
  EXPECT_THAT(error.message(), HasSubstr("GPA 0xfeb00e00"));
}

TEST_F(MshvRunTest, AMemoryInterceptForAnotherRipIsRefused) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, kMmioLoad, [](accel::Regs&) {}));
  HvX64MemoryInterceptMessage m{};
  m.header.rip = kEntry + 0x100;  // the VP is at kEntry
  m.header.execution_state = kExecCr0Pe | kExecEferLma;
  m.memory_access_info = kMemAccessGvaValid | kMemAccessGvaGpaValid;
  m.guest_virtual_address = m.guest_physical_address = 0xfeb00000;
  m.instruction_byte_count = 7;
  std::memcpy(m.instruction_bytes, kMmioLoad.data(), 7);
  fake_.play(0, message(kHvMessageUnmappedGpa, m));
  Error error = run_error(io_);
  EXPECT_THAT(error.message(), HasSubstr("does not belong to this intercept"));
  EXPECT_TRUE(io_.accesses().empty());
}

}  // namespace
}  // namespace ferry::test

// MMIO on MSHV end to end: the fake executes real instructions from guest memory and sends the
// memory intercepts the hypervisor would (real instruction bytes, short byte counts, with and
// without a GPA it vouches for); lib/x86 behind the MMIO seam must produce the GuestIo traffic and
// the registers the CPU would, translate through HvCallTranslateVirtualAddress, and inject the
// exceptions the instruction raises through HV_REGISTER_PENDING_INTERRUPTION.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "ferry/vmm/boot_state.h"
#include "mshv_backend_test.h"

namespace ferry::test {
namespace {

using namespace mshv;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Kind = IoAccess::Kind;

// MMIO: above the 4 MiB of RAM, inside the boot tables' identity map, and below 2 GiB so that a
// 32-bit absolute displacement reaches it in 64-bit mode.
constexpr uint64_t kMmio = 0x40000000;
// A second view of guest-physical memory through PML4 entry 1: GVA kHigh + x is GPA kHighGpa + x
// in the first GiB (a 1 GiB page), then GiBs the tests set up.
constexpr uint64_t kHigh = 0x8000000000;
constexpr uint64_t kHighGpa = 0xc0000000;
constexpr uint64_t kHighPdpt = 0x30000;
constexpr uint64_t kGib = 1ull << 30;
constexpr uint64_t kPresentWritable = 0x3, kLargePage = 0x80;

IoAccess mmio_read(uint64_t gpa, std::vector<uint8_t> data) {
  return {Kind::kMmioRead, gpa, std::move(data)};
}
IoAccess mmio_write(uint64_t gpa, std::vector<uint8_t> data) {
  return {Kind::kMmioWrite, gpa, std::move(data)};
}

std::vector<uint8_t> operator+(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const std::vector<uint8_t> kHlt = {0xf4};
// mov eax, [kMmio]
const std::vector<uint8_t> kLoadEax = {0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40};

std::vector<std::string> hypercalls(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  std::copy_if(names.begin(), names.end(), std::back_inserter(out),
               [](const std::string& n) { return n.rfind("HvCall", 0) == 0; });
  return out;
}

class MshvMmioTest : public MshvBackendTest {
 protected:
  MshvMmioTest() = default;
  explicit MshvMmioTest(FakeMshvOptions options) : MshvBackendTest(std::move(options)) {}

  // PDPT entry `index` of the kHigh view (GVA kHigh + index GiB).
  void map_high_gib(unsigned index, uint64_t entry) {
    const uint64_t pml4e = kHighPdpt | kPresentWritable;
    write(vmm::kBootPml4Address + 8, {reinterpret_cast<const uint8_t*>(&pml4e), 8});
    write(kHighPdpt + 8 * index, {reinterpret_cast<const uint8_t*>(&entry), 8});
  }
  uint64_t high_entry(unsigned index) {
    uint64_t entry = 0;
    std::memcpy(&entry, read(kHighPdpt + 8 * index, 8).data(), 8);
    return entry;
  }
  // Runs until the instruction's exception is injected, then lets the guest halt in its handler.
  void run_to_injection() {
    auto exit = vcpu_->run(io_);
    ASSERT_TRUE(exit) << exit.error().message();
    ASSERT_EQ(exit->kind, accel::ExitKind::kHandled);
    fake_.play(0, FakeGuestEvent::halt());
    EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  }
  Error run_error() {
    for (int i = 0; i < 10; ++i) {
      auto exit = vcpu_->run(io_);
      if (!exit) return exit.error();
    }
    ADD_FAILURE() << "the run did not fail";
    return Error(Errc::kInternal, "");
  }

  RecordingGuestIo io_;
};

TEST_F(MshvMmioTest, MovLoadsAndStoresThroughTheRegisterPageAlone) {
  // mov eax, [kMmio]; mov [kMmio+0x10], rbx; mov byte [kMmio+0x20], 0x5a; hlt
  const auto code = kLoadEax +
                    std::vector<uint8_t>{0x48, 0x89, 0x1c, 0x25, 0x10, 0x00, 0x00, 0x40} +
                    std::vector<uint8_t>{0xc6, 0x04, 0x25, 0x20, 0x00, 0x00, 0x40, 0x5a} + kHlt;
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, code, [](accel::Regs& r) {
    r.rax = ~0ull;
    r.rbx = 0x1122334455667788;
  }));
  fake_.annotate_mmio(kEntry, {.gva = kMmio});
  fake_.annotate_mmio(kEntry + 7, {.gva = kMmio + 0x10, .write = true});
  fake_.annotate_mmio(kEntry + 15, {.gva = kMmio + 0x20, .write = true});
  fake_.clear_calls();
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  // State from the register page, results back through its dirty bits, the GPA from the message.
  EXPECT_THAT(hypercalls(fake_.call_names()), ElementsAre("HvCallSetPartitionProperty 0x30003=0x0"))
      << "only the clock's start";
  EXPECT_THAT(
      io_.accesses(),
      ElementsAre(mmio_read(kMmio, {0x41, 0x42, 0x43, 0x44}),
                  mmio_write(kMmio + 0x10, {0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}),
                  mmio_write(kMmio + 0x20, {0x5a})));
  EXPECT_EQ(regs().rax, 0x44434241u) << "a 32-bit load zero-extends";
  EXPECT_EQ(regs().rip, kEntry + 23) << "at the hlt";
}

TEST_F(MshvMmioTest, ExtensionsAndReadModifyWrite) {
  // movzx ecx, word [kMmio+0x20]; movsx rdx, byte [kMmio+0x21]; add dword [kMmio+0x24], 5; hlt
  const auto code = std::vector<uint8_t>{0x0f, 0xb7, 0x0c, 0x25, 0x20, 0x00, 0x00, 0x40} +
                    std::vector<uint8_t>{0x48, 0x0f, 0xbe, 0x14, 0x25, 0x21, 0x00, 0x00, 0x40} +
                    std::vector<uint8_t>{0x83, 0x04, 0x25, 0x24, 0x00, 0x00, 0x40, 0x05} + kHlt;
  ASSERT_NO_FATAL_FAILURE(
      start(vmm::BootMode::kLong, code, [](accel::Regs& r) { r.rcx = r.rdx = ~0ull; }));
  fake_.annotate_mmio(kEntry, {.gva = kMmio + 0x20});
  fake_.annotate_mmio(kEntry + 8, {.gva = kMmio + 0x21});
  fake_.annotate_mmio(kEntry + 17, {.gva = kMmio + 0x24, .write = true});
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  // Reads return 0x41, 0x42, ... in order.
  EXPECT_THAT(io_.accesses(),
              ElementsAre(mmio_read(kMmio + 0x20, {0x41, 0x42}), mmio_read(kMmio + 0x21, {0x43}),
                          mmio_read(kMmio + 0x24, {0x44, 0x45, 0x46, 0x47}),
                          mmio_write(kMmio + 0x24, {0x49, 0x45, 0x46, 0x47})));
  const accel::Regs r = regs();
  EXPECT_EQ(r.rcx, 0x4241u);
  EXPECT_EQ(r.rdx, 0x43u);
  EXPECT_EQ(r.rflags & 0x8d5, 0u) << "0x47464544 + 5: no carry, overflow, sign, zero; odd parity";
}

TEST_F(MshvMmioTest, RepStosdAndRepMovsb) {
  // rep stosd (3 to MMIO); then rep movsb from MMIO to RAM, backward (DF); hlt
  const std::vector<uint8_t> code = {0xf3, 0xab, 0xfd, 0xf3, 0xa4, 0xf4};
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, code, [](accel::Regs& r) {
    r.rax = 0xaabbccdd;
    r.rcx = 3;
    r.rdi = kMmio + 0x100;
  }));
  fake_.annotate_mmio(kEntry, {.gva = kMmio + 0x100, .write = true});
  auto exit = vcpu_->run(io_);
  ASSERT_TRUE(exit) << exit.error().message();
  EXPECT_EQ(regs().rdi, kMmio + 0x10c);
  EXPECT_EQ(regs().rcx, 0u);
  EXPECT_EQ(regs().rip, kEntry + 2);
  // std (fd) is beyond the fake's model: the test sets DF itself and skips the byte.
  auto r = regs();
  r.rflags |= 0x400;
  r.rip = kEntry + 3;
  r.rsi = kMmio + 0x302;
  r.rdi = 0x21002;
  r.rcx = 3;
  ASSERT_TRUE(vcpu_->set_regs(r));
  fake_.annotate_mmio(kEntry + 3, {.gva = kMmio + 0x302});
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_THAT(io_.accesses(),
              ElementsAre(mmio_write(kMmio + 0x100, {0xdd, 0xcc, 0xbb, 0xaa}),
                          mmio_write(kMmio + 0x104, {0xdd, 0xcc, 0xbb, 0xaa}),
                          mmio_write(kMmio + 0x108, {0xdd, 0xcc, 0xbb, 0xaa}),
                          mmio_read(kMmio + 0x302, {0x41}), mmio_read(kMmio + 0x301, {0x42}),
                          mmio_read(kMmio + 0x300, {0x43})));
  EXPECT_EQ(read(0x21000, 3), (std::vector<uint8_t>{0x43, 0x42, 0x41}));
  EXPECT_EQ(regs().rsi, kMmio + 0x2ff);
  EXPECT_EQ(regs().rdi, 0x20fffu);
}

TEST_F(MshvMmioTest, ALongRepResumesWithRipOnTheInstruction) {
  // rep stosb of 5000 bytes to MMIO: lib/x86 stops after 4096 with RIP on the instruction, the
  // guest executes it again and the hypervisor intercepts it again.
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0xf3, 0xaa, 0xf4}, [](accel::Regs& r) {
    r.rax = 0x7e;
    r.rcx = 5000;
    r.rdi = kMmio;
  }));
  fake_.annotate_mmio(kEntry, {.gva = kMmio, .write = true});
  auto exit = vcpu_->run(io_);
  ASSERT_TRUE(exit) << exit.error().message();
  EXPECT_EQ(io_.accesses().size(), 4096u);
  EXPECT_EQ(regs().rip, kEntry);
  EXPECT_EQ(regs().rcx, 5000u - 4096);
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  const auto accesses = io_.accesses();
  ASSERT_EQ(accesses.size(), 5000u);
  EXPECT_EQ(accesses.back(), mmio_write(kMmio + 4999, {0x7e})) << "into the next page too";
  EXPECT_EQ(regs().rcx, 0u);
  EXPECT_EQ(regs().rdi, kMmio + 5000);
}

TEST_F(MshvMmioTest, SseMovesFetchTheXmmStateOnlyWhenTheyNeedIt) {
  // movdqu xmm1, [kMmio+0x40]; movdqu [kMmio+0x50], xmm1; hlt
  const auto code = std::vector<uint8_t>{0xf3, 0x0f, 0x6f, 0x0c, 0x25, 0x40, 0x00, 0x00, 0x40} +
                    std::vector<uint8_t>{0xf3, 0x0f, 0x7f, 0x0c, 0x25, 0x50, 0x00, 0x00, 0x40} +
                    kHlt;
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, code, [](accel::Regs&) {}));
  auto fpu = vcpu_->get_fpu();
  ASSERT_TRUE(fpu);
  fpu->xmm[2].fill(0x22);
  ASSERT_TRUE(vcpu_->set_fpu(*fpu));
  fake_.annotate_mmio(kEntry, {.gva = kMmio + 0x40});
  fake_.annotate_mmio(kEntry + 9, {.gva = kMmio + 0x50, .write = true});
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  std::vector<uint8_t> loaded(16);
  for (unsigned i = 0; i < 16; ++i) loaded[i] = static_cast<uint8_t>(0x41 + i);
  EXPECT_THAT(io_.accesses(),
              ElementsAre(mmio_read(kMmio + 0x40, loaded), mmio_write(kMmio + 0x50, loaded)));
  fpu = vcpu_->get_fpu();
  ASSERT_TRUE(fpu);
  EXPECT_TRUE(std::equal(loaded.begin(), loaded.end(), fpu->xmm[1].begin()));
  EXPECT_THAT(fpu->xmm[2], ::testing::Each(0x22)) << "only the register the move wrote is set";
  EXPECT_EQ(regs().rip, kEntry + 18);
}

TEST_F(MshvMmioTest, AnAccessAcrossPagesSplitsIntoRamAndMmio) {
  // mov [0x3ffffe], eax: the last two bytes of RAM and the first two of the MMIO beyond it;
  // mov rax, [kMmio+0xffc]: two MMIO pages, the second translated by hypercall.
  const auto code = std::vector<uint8_t>{0x89, 0x04, 0x25, 0xfe, 0xff, 0x3f, 0x00} +
                    std::vector<uint8_t>{0x48, 0x8b, 0x04, 0x25, 0xfc, 0x0f, 0x00, 0x40} + kHlt;
  ASSERT_NO_FATAL_FAILURE(
      start(vmm::BootMode::kLong, code, [](accel::Regs& r) { r.rax = 0x44332211; }));
  fake_.annotate_mmio(kEntry, {.gva = kMemorySize, .write = true});  // the page that intercepted
  fake_.annotate_mmio(kEntry + 7, {.gva = kMmio + 0xffc});
  fake_.clear_calls();
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_THAT(io_.accesses(), ElementsAre(mmio_write(kMemorySize, {0x33, 0x44}),
                                          mmio_read(kMmio + 0xffc, {0x41, 0x42, 0x43, 0x44}),
                                          mmio_read(kMmio + 0x1000, {0x45, 0x46, 0x47, 0x48})));
  EXPECT_EQ(read(kMemorySize - 2, 2), (std::vector<uint8_t>{0x11, 0x22}));
  EXPECT_EQ(regs().rax, 0x4847464544434241u);
  EXPECT_THAT(hypercalls(fake_.call_names()), Contains("HvCallTranslateVirtualAddress"));
}

TEST_F(MshvMmioTest, ShortInstructionBytesAreFetchedFromGuestMemory) {
  // The message carries 3 of the 7 bytes, then none at all.
  ASSERT_NO_FATAL_FAILURE(
      start(vmm::BootMode::kLong, kLoadEax + kLoadEax + kHlt, [](accel::Regs&) {}));
  fake_.annotate_mmio(kEntry, {.gva = kMmio, .instruction_bytes = 3});
  fake_.annotate_mmio(kEntry + 7, {.gva = kMmio, .instruction_bytes = 0});
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_THAT(io_.accesses(), ElementsAre(mmio_read(kMmio, {0x41, 0x42, 0x43, 0x44}),
                                          mmio_read(kMmio, {0x45, 0x46, 0x47, 0x48})));
  EXPECT_EQ(regs().rip, kEntry + 14);
}

TEST_F(MshvMmioTest, TheMessagesGpaServesItsPageAndOnlyWhenTheHypervisorVouchesForIt) {
  // mov eax, [rbx] twice, through the kHigh view: GVA kHigh + 0x1000 is GPA kHighGpa + 0x1000.
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0x8b, 0x03, 0x8b, 0x03, 0xf4},
                                [](accel::Regs& r) { r.rbx = kHigh + 0x1010; }));
  map_high_gib(0, kHighGpa | kPresentWritable | kLargePage);
  // First a GPA the message vouches for (a different one than the page tables give, to see which
  // is used), then the same with gva_gpa_valid clear.
  fake_.annotate_mmio(kEntry, {.gpa = 0x50000010, .gva = kHigh + 0x1010});
  fake_.annotate_mmio(kEntry + 2, {.gpa = 0x50000010, .gva = kHigh + 0x1010, .gpa_valid = false});
  fake_.clear_calls();
  auto exit = vcpu_->run(io_);
  ASSERT_TRUE(exit) << exit.error().message();
  EXPECT_THAT(hypercalls(fake_.call_names()), Not(Contains("HvCallTranslateVirtualAddress")));
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_THAT(io_.accesses(), ElementsAre(mmio_read(0x50000010, {0x41, 0x42, 0x43, 0x44}),
                                          mmio_read(kHighGpa + 0x1010, {0x45, 0x46, 0x47, 0x48})));
  EXPECT_THAT(hypercalls(fake_.call_names()), Contains("HvCallTranslateVirtualAddress"));
  EXPECT_EQ(high_entry(0) & 0x20, 0x20u) << "the hypervisor's walk set the accessed bit";
}

TEST_F(MshvMmioTest, AnUnmappedAddressInjectsAPageFault) {
  // mov eax, [rbx] with rbx in a GiB no page table maps.
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0x8b, 0x03, 0xf4},
                                [](accel::Regs& r) { r.rbx = kHigh + 2 * kGib + 0x10; }));
  map_high_gib(0, kHighGpa | kPresentWritable | kLargePage);
  fake_.annotate_mmio(kEntry, {.gva = kHigh + 2 * kGib + 0x10, .gpa_valid = false});
  ASSERT_NO_FATAL_FAILURE(run_to_injection());
  EXPECT_THAT(fake_.exceptions(0),
              ElementsAre(FakeException{14, 0u, kHigh + 2 * kGib + 0x10, kEntry}));
  EXPECT_TRUE(io_.accesses().empty());
  EXPECT_EQ(regs().rip, kEntry) << "a fault leaves RIP on the instruction";
}

TEST_F(MshvMmioTest, AWriteToAReadOnlyPageInjectsAProtectionPageFault) {
  // mov [rbx], eax through a read-only 1 GiB page, with CR0.WP so the kernel is held to it.
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0x89, 0x03, 0xf4},
                                [](accel::Regs& r) { r.rbx = kHigh + kGib + 0x20; }));
  map_high_gib(1, kHighGpa | 0x1 | kLargePage);
  auto sregs = vcpu_->get_special_regs();
  ASSERT_TRUE(sregs);
  sregs->cr0 |= 1ull << 16;
  ASSERT_TRUE(vcpu_->set_special_regs(*sregs));
  fake_.annotate_mmio(kEntry, {.gva = kHigh + kGib + 0x20, .write = true, .gpa_valid = false});
  ASSERT_NO_FATAL_FAILURE(run_to_injection());
  EXPECT_THAT(fake_.exceptions(0),
              ElementsAre(FakeException{14, 0x3u, kHigh + kGib + 0x20, kEntry}))
      << "present | write";
  EXPECT_TRUE(io_.accesses().empty());
}

TEST_F(MshvMmioTest, ARepThatFaultsPartWayKeepsItsProgress) {
  // rep stosb running off the end of a mapped GiB after two bytes.
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0xf3, 0xaa, 0xf4}, [](accel::Regs& r) {
    r.rax = 0x99;
    r.rcx = 4;
    r.rdi = kHigh + kGib - 2;
  }));
  map_high_gib(0, kHighGpa | kPresentWritable | kLargePage);
  fake_.annotate_mmio(kEntry, {.gva = kHigh + kGib - 2, .write = true});
  ASSERT_NO_FATAL_FAILURE(run_to_injection());
  EXPECT_THAT(io_.accesses(), ElementsAre(mmio_write(kHighGpa + kGib - 2, {0x99}),
                                          mmio_write(kHighGpa + kGib - 1, {0x99})));
  EXPECT_THAT(fake_.exceptions(0), ElementsAre(FakeException{14, 0x2u, kHigh + kGib, kEntry}));
  EXPECT_EQ(regs().rcx, 2u);
  EXPECT_EQ(regs().rdi, kHigh + kGib);
  EXPECT_EQ(regs().rip, kEntry);
}

TEST_F(MshvMmioTest, GeneralProtectionAndInvalidOpcodeAreInjected) {
  // movdqa xmm0, [kMmio+0x48]: misaligned, #GP(0). lock mov [kMmio], eax: #UD, no error code.
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong,
                                {0x66, 0x0f, 0x6f, 0x04, 0x25, 0x48, 0x00, 0x00, 0x40, 0xf4},
                                [](accel::Regs&) {}));
  fake_.annotate_mmio(kEntry, {.gva = kMmio + 0x48});
  ASSERT_NO_FATAL_FAILURE(run_to_injection());
  EXPECT_THAT(fake_.exceptions(0), ElementsAre(FakeException{13, 0u, 0, kEntry}));

  auto r = regs();
  r.rip = kEntry + 0x100;
  ASSERT_TRUE(vcpu_->set_regs(r));
  const std::vector<uint8_t> locked = {0xf0, 0x89, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40, 0xf4};
  write(kEntry + 0x100, locked);
  fake_.annotate_mmio(kEntry + 0x100, {.gva = kMmio, .write = true});
  fake_.execute_guest(0);
  ASSERT_NO_FATAL_FAILURE(run_to_injection());
  EXPECT_THAT(fake_.exceptions(0), ElementsAre(FakeException{13, 0u, 0, kEntry},
                                               FakeException{6, std::nullopt, 0, kEntry + 0x100}));
  EXPECT_TRUE(io_.accesses().empty());
}

TEST_F(MshvMmioTest, SingleStepTrapsAfterTheEmulatedInstruction) {
  // mov eax, [kMmio] with RFLAGS.TF: the hypervisor did not run it, so ferry raises the trap.
  ASSERT_NO_FATAL_FAILURE(
      start(vmm::BootMode::kLong, kLoadEax + kHlt, [](accel::Regs& r) { r.rflags |= 1ull << 8; }));
  fake_.annotate_mmio(kEntry, {.gva = kMmio});
  ASSERT_NO_FATAL_FAILURE(run_to_injection());
  EXPECT_THAT(io_.accesses(), ElementsAre(mmio_read(kMmio, {0x41, 0x42, 0x43, 0x44})));
  EXPECT_THAT(fake_.exceptions(0), ElementsAre(FakeException{1, std::nullopt, 0, kEntry + 7}))
      << "a trap: RIP is past the instruction";
  EXPECT_EQ(fake_.vp_register(0, kHvRegDr6).low & (1u << 14), 1u << 14) << "DR6.BS";
}

TEST_F(MshvMmioTest, SingleStepRunsOneRepIterationPerTrap) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0xf3, 0xaa, 0xf4}, [](accel::Regs& r) {
    r.rflags |= 1ull << 8;
    r.rax = 0x77;
    r.rcx = 3;
    r.rdi = kMmio;
  }));
  fake_.annotate_mmio(kEntry, {.gva = kMmio, .write = true});
  ASSERT_NO_FATAL_FAILURE(run_to_injection());
  EXPECT_THAT(io_.accesses(), ElementsAre(mmio_write(kMmio, {0x77})));
  EXPECT_THAT(fake_.exceptions(0), ElementsAre(FakeException{1, std::nullopt, 0, kEntry}))
      << "the REP is not done: RIP stays on it";
  EXPECT_EQ(regs().rcx, 2u);
}

TEST_F(MshvMmioTest, AnExceptionWhileAnotherEventIsPendingEndsTheVm) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, {0xf3, 0xaa, 0xf4}, [](accel::Regs& r) {
    r.rcx = 4;
    r.rdi = kHigh + kGib - 2;
  }));
  map_high_gib(0, kHighGpa | kPresentWritable | kLargePage);
  fake_.annotate_mmio(kEntry, {.gva = kHigh + kGib - 2, .write = true});
  // While the REP runs, an NMI becomes pending; then the third byte page-faults.
  io_.on_access = [&](const IoAccess&) {
    fake_.set_vp_register(0, kHvRegPendingInterruption, {0x1 | (2u << 1) | (2u << 16), 0});
  };
  Error error = run_error();
  EXPECT_EQ(error.code(), Errc::kUnsupported);
  EXPECT_THAT(error.message(), HasSubstr("#PF(0x2)"));
  EXPECT_THAT(error.message(), HasSubstr("already has an event pending"));
  EXPECT_THAT(error.message(), HasSubstr("emulating the MMIO write at RIP 0x10000"));
}

TEST_F(MshvMmioTest, AnUnsupportedInstructionEndsTheVmNamingItsBytes) {
  // fld dword [kMmio]: x87 on MMIO.
  ASSERT_NO_FATAL_FAILURE(start(
      vmm::BootMode::kLong, {0xd9, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40, 0xf4}, [](accel::Regs&) {}));
  fake_.annotate_mmio(kEntry, {.gva = kMmio});
  Error error = run_error();
  EXPECT_EQ(error.code(), Errc::kUnsupported);
  EXPECT_THAT(error.message(), HasSubstr("d9 04 25 00 00 00 40"));
  EXPECT_THAT(error.message(),
              HasSubstr("emulating the MMIO read at RIP 0x10000 (GPA 0x40000000)"));
  EXPECT_TRUE(io_.accesses().empty());
  EXPECT_TRUE(fake_.exceptions(0).empty());
}

// An isolated partition has no register page: the same instructions by hypercall.
class MshvMmioWithoutRegisterPageTest : public MshvMmioTest {
 protected:
  MshvMmioWithoutRegisterPageTest() : MshvMmioTest(options()) {}
  static FakeMshvOptions options() {
    FakeMshvOptions o = fake_options_with_host_cpuid();
    o.register_page = false;
    return o;
  }
};

TEST_F(MshvMmioWithoutRegisterPageTest, RegistersGoByHypercall) {
  ASSERT_NO_FATAL_FAILURE(start(vmm::BootMode::kLong, kLoadEax + kHlt, [](accel::Regs&) {}));
  fake_.annotate_mmio(kEntry, {.gva = kMmio});
  fake_.clear_calls();
  EXPECT_EQ(run_until_stop(io_).kind, accel::ExitKind::kHalt);
  EXPECT_THAT(hypercalls(fake_.call_names()),
              ElementsAre("HvCallSetPartitionProperty 0x30003=0x0", "HvCallGetVpRegisters",
                          "HvCallSetVpRegisters"))
      << "one read of the state, one write of the results";
  EXPECT_THAT(io_.accesses(), ElementsAre(mmio_read(kMmio, {0x41, 0x42, 0x43, 0x44})));
  EXPECT_EQ(regs().rax, 0x44434241u);
  EXPECT_EQ(regs().rip, kEntry + 7);
}

}  // namespace
}  // namespace ferry::test

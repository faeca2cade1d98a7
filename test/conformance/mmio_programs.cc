// The MMIO programs of the conformance tests (conformance_programs.h). On KVM the kernel's
// emulator carries them out; on MSHV the fake sends memory intercepts (each site says where its
// access points, as the hypervisor would) and lib/x86 behind the MMIO seam carries them out.
#include <gtest/gtest.h>

#include "conformance_programs.h"

namespace ferry::test {
namespace {

using Kind = IoAccess::Kind;

// Above the programs' RAM, inside the long-mode identity map, and below 2 GiB so that a 32-bit
// absolute displacement reaches it in 64-bit mode.
constexpr uint64_t kMmio = 0x40000000;

IoAccess read(uint64_t gpa, std::vector<uint8_t> data) {
  return {Kind::kMmioRead, gpa, std::move(data)};
}
IoAccess write(uint64_t gpa, std::vector<uint8_t> data) {
  return {Kind::kMmioWrite, gpa, std::move(data)};
}

// Instructions, concatenated; the sites' offsets follow from the lengths.
std::vector<uint8_t> join(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> code;
  for (const auto& part : parts) code.insert(code.end(), part.begin(), part.end());
  return code;
}

// The bytes 0x41, 0x42, ... that the recording GuestIo's reads return, from the n-th byte read.
std::vector<uint8_t> counting(uint8_t first, size_t count) {
  std::vector<uint8_t> bytes(count);
  for (size_t i = 0; i < count; ++i) bytes[i] = static_cast<uint8_t>(first + i);
  return bytes;
}

}  // namespace

std::vector<Expectation> mmio_programs() {
  std::vector<Expectation> list;
  using vmm::BootMode;

  // mov eax, [kMmio]; mov [kMmio+0x10], rbx; mov byte [kMmio+0x20], 0x5a
  Expectation e = program("mov_load_store_long", BootMode::kLong,
                          join({{0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40},
                                {0x48, 0x89, 0x1c, 0x25, 0x10, 0x00, 0x00, 0x40},
                                {0xc6, 0x04, 0x25, 0x20, 0x00, 0x00, 0x40, 0x5a}}),
                          [](accel::Regs& r) { r.rax = ~0ull, r.rbx = 0x1122334455667788; });
  e.program.mmio = {{.offset = 0, .gva = kMmio},
                    {.offset = 7, .gva = kMmio + 0x10, .write = true},
                    {.offset = 15, .gva = kMmio + 0x20, .write = true}};
  e.accesses = {read(kMmio, counting(0x41, 4)),
                write(kMmio + 0x10, {0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}),
                write(kMmio + 0x20, {0x5a})};
  e.check_regs = [](const accel::Regs& r) { EXPECT_EQ(r.rax, 0x44434241u); };
  list.push_back(e);

  // movzx ecx, word [kMmio+0x20]; movsx rdx, byte [kMmio+0x21]; add dword [kMmio+0x24], 5
  e = program("extend_and_add_long", BootMode::kLong,
              join({{0x0f, 0xb7, 0x0c, 0x25, 0x20, 0x00, 0x00, 0x40},
                    {0x48, 0x0f, 0xbe, 0x14, 0x25, 0x21, 0x00, 0x00, 0x40},
                    {0x83, 0x04, 0x25, 0x24, 0x00, 0x00, 0x40, 0x05}}),
              [](accel::Regs& r) { r.rcx = r.rdx = ~0ull; });
  e.program.mmio = {{.offset = 0, .gva = kMmio + 0x20},
                    {.offset = 8, .gva = kMmio + 0x21},
                    {.offset = 17, .gva = kMmio + 0x24, .write = true}};
  e.accesses = {read(kMmio + 0x20, {0x41, 0x42}), read(kMmio + 0x21, {0x43}),
                read(kMmio + 0x24, {0x44, 0x45, 0x46, 0x47}),
                write(kMmio + 0x24, {0x49, 0x45, 0x46, 0x47})};
  e.check_regs = [](const accel::Regs& r) {
    EXPECT_EQ(r.rcx, 0x4241u);
    EXPECT_EQ(r.rdx, 0x43u);
    EXPECT_EQ(r.rflags & 0x8d5, 0u);  // CF PF AF ZF SF OF of 0x47464544 + 5
  };
  list.push_back(e);

  // rep stosd to MMIO
  e = program("rep_stosd_long", BootMode::kLong, {0xf3, 0xab},
              [](accel::Regs& r) { r.rax = 0xaabbccdd, r.rcx = 3, r.rdi = kMmio + 0x100; });
  e.program.mmio = {{.offset = 0, .gva = kMmio + 0x100, .write = true}};
  e.accesses = {write(kMmio + 0x100, {0xdd, 0xcc, 0xbb, 0xaa}),
                write(kMmio + 0x104, {0xdd, 0xcc, 0xbb, 0xaa}),
                write(kMmio + 0x108, {0xdd, 0xcc, 0xbb, 0xaa})};
  e.check_regs = [](const accel::Regs& r) {
    EXPECT_EQ(r.rdi, kMmio + 0x10c);
    EXPECT_EQ(r.rcx, 0u);
  };
  list.push_back(e);

  // rep movsb from RAM to MMIO
  e = program("rep_movsb_ram_to_mmio_long", BootMode::kLong, {0xf3, 0xa4},
              [](accel::Regs& r) { r.rsi = 0x20000, r.rdi = kMmio + 0x200, r.rcx = 3; });
  e.program.memory = {{0x20000, {'a', 'b', 'c'}}};
  e.program.mmio = {{.offset = 0, .gva = kMmio + 0x200, .write = true}};
  e.accesses = {write(kMmio + 0x200, {'a'}), write(kMmio + 0x201, {'b'}),
                write(kMmio + 0x202, {'c'})};
  e.check_regs = [](const accel::Regs& r) {
    EXPECT_EQ(r.rsi, 0x20003u);
    EXPECT_EQ(r.rdi, kMmio + 0x203);
  };
  list.push_back(e);

  // rep movsb from MMIO to RAM, backward (DF set)
  e = program(
      "rep_movsb_mmio_to_ram_backward_long", BootMode::kLong, {0xf3, 0xa4},
      [](accel::Regs& r) { r.rsi = kMmio + 0x302, r.rdi = 0x21002, r.rcx = 3, r.rflags = 0x402; });
  e.program.mmio = {{.offset = 0, .gva = kMmio + 0x302}};
  e.program.watch = 0x21000;
  e.program.watch_length = 4;
  e.accesses = {read(kMmio + 0x302, {0x41}), read(kMmio + 0x301, {0x42}),
                read(kMmio + 0x300, {0x43})};
  e.watched = {0x43, 0x42, 0x41, 0};
  e.check_regs = [](const accel::Regs& r) {
    EXPECT_EQ(r.rsi, kMmio + 0x2ff);
    EXPECT_EQ(r.rdi, 0x20fffu);
  };
  list.push_back(e);

  // movdqu xmm1, [kMmio+0x40]; movdqu [kMmio+0x50], xmm1
  e = program("sse_movdqu_long", BootMode::kLong,
              join({{0xf3, 0x0f, 0x6f, 0x0c, 0x25, 0x40, 0x00, 0x00, 0x40},
                    {0xf3, 0x0f, 0x7f, 0x0c, 0x25, 0x50, 0x00, 0x00, 0x40}}),
              [](accel::Regs&) {});
  e.program.mmio = {{.offset = 0, .gva = kMmio + 0x40},
                    {.offset = 9, .gva = kMmio + 0x50, .write = true}};
  e.accesses = {read(kMmio + 0x40, counting(0x41, 8)), read(kMmio + 0x48, counting(0x49, 8)),
                write(kMmio + 0x50, counting(0x41, 8)), write(kMmio + 0x58, counting(0x49, 8))};
  list.push_back(e);

  // mov [0x3ffffe], eax: two bytes of RAM, two of MMIO (the intercept names the MMIO page)
  e = program("cross_page_ram_to_mmio_long", BootMode::kLong,
              {0x89, 0x04, 0x25, 0xfe, 0xff, 0x3f, 0x00},
              [](accel::Regs& r) { r.rax = 0x44332211; });
  e.program.mmio = {{.offset = 0, .gva = kProgramMemorySize, .write = true}};
  e.program.watch = kProgramMemorySize - 2;
  e.program.watch_length = 2;
  e.accesses = {write(kProgramMemorySize, {0x33, 0x44})};
  e.watched = {0x11, 0x22};
  list.push_back(e);

  // mov rax, [kMmio+0xffc]: two MMIO pages; the message vouches for no GPA and carries 2 of the
  // 8 instruction bytes, so MSHV translates and fetches.
  e = program("cross_page_mmio_untranslated_long", BootMode::kLong,
              {0x48, 0x8b, 0x04, 0x25, 0xfc, 0x0f, 0x00, 0x40}, [](accel::Regs&) {});
  e.program.mmio = {
      {.offset = 0, .gva = kMmio + 0xffc, .gpa_valid = false, .instruction_bytes = 2}};
  e.accesses = {read(kMmio + 0xffc, counting(0x41, 4)), read(kMmio + 0x1000, counting(0x45, 4))};
  e.check_regs = [](const accel::Regs& r) { EXPECT_EQ(r.rax, 0x4847464544434241u); };
  list.push_back(e);

  // 32-bit protected mode, no paging: mov eax, [kMmio]; mov [ebx+4], cx
  e = program("mov_protected", BootMode::kProtected,
              join({{0x8b, 0x05, 0x00, 0x00, 0x00, 0x40}, {0x66, 0x89, 0x4b, 0x04}}),
              [](accel::Regs& r) { r.rax = 0xffffffff, r.rbx = kMmio, r.rcx = 0xbeef; });
  e.program.mmio = {{.offset = 0, .gva = kMmio}, {.offset = 6, .gva = kMmio + 4, .write = true}};
  e.accesses = {read(kMmio, counting(0x41, 4)), write(kMmio + 4, {0xef, 0xbe})};
  e.check_regs = [](const accel::Regs& r) { EXPECT_EQ(r.rax, 0x44434241u); };
  list.push_back(e);

  // Real mode through an FS base beyond RAM: mov ax, fs:[bx]; mov fs:[bx+2], al
  e = program("mov_fs_real", BootMode::kReal, {0x64, 0x8b, 0x07, 0x64, 0x88, 0x47, 0x02},
              [](accel::Regs& r) { r.rax = 0x1234, r.rbx = 0x10; });
  e.program.fs_base = kProgramMemorySize;
  e.program.mmio = {{.offset = 0, .gva = kProgramMemorySize + 0x10},
                    {.offset = 3, .gva = kProgramMemorySize + 0x12, .write = true}};
  e.accesses = {read(kProgramMemorySize + 0x10, {0x41, 0x42}),
                write(kProgramMemorySize + 0x12, {0x41})};
  e.check_regs = [](const accel::Regs& r) { EXPECT_EQ(r.rax, 0x4241u); };
  list.push_back(e);
  return list;
}

}  // namespace ferry::test

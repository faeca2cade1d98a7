// The port I/O programs of the conformance tests (conformance_programs.h).
#include <gtest/gtest.h>

#include <cstring>

#include "conformance_programs.h"

namespace ferry::test {
namespace {

using Kind = IoAccess::Kind;

IoAccess out(uint16_t port, std::vector<uint8_t> data) {
  return {Kind::kPioWrite, port, std::move(data)};
}
IoAccess in(uint16_t port, std::vector<uint8_t> data) {
  return {Kind::kPioRead, port, std::move(data)};
}

std::vector<uint8_t> bytes(const char* text) { return {text, text + std::strlen(text)}; }

}  // namespace

std::vector<Expectation> pio_programs() {
  std::vector<Expectation> list;
  // out al,0x80; out ax,0x82 (66); out eax,0x84; out dx,al
  const std::vector<uint8_t> outs = {0xe6, 0x80, 0x66, 0xe7, 0x82, 0xe7, 0x84, 0xee};
  Expectation e = program("out_sizes_long", vmm::BootMode::kLong, outs,
                          [](accel::Regs& r) { r.rax = 0x1122334455667788, r.rdx = 0x3f8; });
  e.accesses = {out(0x80, {0x88}), out(0x82, {0x88, 0x77}), out(0x84, {0x88, 0x77, 0x66, 0x55}),
                out(0x3f8, {0x88})};
  e.check_regs = [](const accel::Regs& r) { EXPECT_EQ(r.rax, 0x1122334455667788u); };
  list.push_back(e);

  e = program("out_sizes_real", vmm::BootMode::kReal, outs,
              [](accel::Regs& r) { r.rax = 0x55667788, r.rdx = 0x3f8; });
  e.accesses = {out(0x80, {0x88}), out(0x82, {0x88, 0x77, 0x66, 0x55}), out(0x84, {0x88, 0x77}),
                out(0x3f8, {0x88})};
  list.push_back(e);

  // in al,0x60; in ax,0x62 (66); in eax,dx
  const std::vector<uint8_t> ins = {0xe4, 0x60, 0x66, 0xe5, 0x62, 0xed};
  for (auto mode : {vmm::BootMode::kLong, vmm::BootMode::kProtected}) {
    e = program(mode == vmm::BootMode::kLong ? "in_merge_long" : "in_merge_protected", mode, ins,
                [](accel::Regs& r) { r.rax = 0x1122334455667788, r.rdx = 0xcfc; });
    e.accesses = {in(0x60, {0x41}), in(0x62, {0x42, 0x43}), in(0xcfc, {0x44, 0x45, 0x46, 0x47})};
    e.check_regs = [](const accel::Regs& r) { EXPECT_EQ(r.rax, 0x47464544u); };
    list.push_back(e);
  }

  e = program("in_al_keeps_the_rest", vmm::BootMode::kLong, {0xe4, 0x60},
              [](accel::Regs& r) { r.rax = 0x1122334455667788; });
  e.accesses = {in(0x60, {0x41})};
  e.check_regs = [](const accel::Regs& r) { EXPECT_EQ(r.rax, 0x1122334455667741u); };
  list.push_back(e);

  e = program("rep_outsb_long", vmm::BootMode::kLong, {0xf3, 0x6e},
              [](accel::Regs& r) { r.rsi = 0x20000, r.rcx = 3, r.rdx = 0x3f8; });
  e.program.memory = {{0x20000, bytes("abc")}};
  e.accesses = {out(0x3f8, {'a'}), out(0x3f8, {'b'}), out(0x3f8, {'c'})};
  e.check_regs = [](const accel::Regs& r) {
    EXPECT_EQ(r.rsi, 0x20003u);
    EXPECT_EQ(r.rcx, 0u);
  };
  list.push_back(e);

  e = program("rep_outsw_backward_long", vmm::BootMode::kLong, {0xf3, 0x66, 0x6f},
              [](accel::Regs& r) { r.rsi = 0x20004, r.rcx = 3, r.rdx = 0x70, r.rflags = 0x402; });
  e.program.memory = {{0x20000, {1, 2, 3, 4, 5, 6}}};
  e.accesses = {out(0x70, {5, 6}), out(0x70, {3, 4}), out(0x70, {1, 2})};
  e.check_regs = [](const accel::Regs& r) { EXPECT_EQ(r.rsi, 0x1fffeu); };
  list.push_back(e);

  e = program("rep_insb_long", vmm::BootMode::kLong, {0xf3, 0x6c},
              [](accel::Regs& r) { r.rdi = 0x21000, r.rcx = 4, r.rdx = 0x1f0; });
  e.program.watch = 0x21000;
  e.program.watch_length = 5;
  e.accesses = {in(0x1f0, {0x41}), in(0x1f0, {0x42}), in(0x1f0, {0x43}), in(0x1f0, {0x44})};
  e.check_regs = [](const accel::Regs& r) { EXPECT_EQ(r.rdi, 0x21004u); };
  e.watched = {0x41, 0x42, 0x43, 0x44, 0};
  list.push_back(e);

  e = program("rep_outsd_2500_long", vmm::BootMode::kLong, {0xf3, 0x6f},
              [](accel::Regs& r) { r.rsi = 0x100000, r.rcx = 2500, r.rdx = 0x3f8; });
  e.access_count = 2500;
  e.check_regs = [](const accel::Regs& r) {
    EXPECT_EQ(r.rcx, 0u);
    EXPECT_EQ(r.rsi, 0x100000u + 4 * 2500);
  };
  list.push_back(e);

  e = program("rep_outsb_addr32_long", vmm::BootMode::kLong, {0x67, 0xf3, 0x6e},
              [](accel::Regs& r) {
                r.rsi = 0xabcd000000020000, r.rcx = 0xffffffff00000002, r.rdx = 0x3f8;
              });
  e.program.memory = {{0x20000, bytes("xy")}};
  e.accesses = {out(0x3f8, {'x'}), out(0x3f8, {'y'})};
  e.check_regs = [](const accel::Regs& r) {
    EXPECT_EQ(r.rsi, 0x20002u);
    EXPECT_EQ(r.rcx, 0u);
  };
  list.push_back(e);

  e = program("outsb_fs_protected", vmm::BootMode::kProtected, {0x64, 0x6e},
              [](accel::Regs& r) { r.rsi = 0x10, r.rdx = 0x3f8; });
  e.program.fs_base = 0x30000;
  e.program.memory = {{0x30010, {0x5a}}};
  e.accesses = {out(0x3f8, {0x5a})};
  e.check_regs = [](const accel::Regs& r) { EXPECT_EQ(r.rsi, 0x11u); };
  list.push_back(e);

  e = program("rep_outsb_wrap_real", vmm::BootMode::kReal, {0xf3, 0x6e},
              [](accel::Regs& r) { r.rsi = 0x1234ffff, r.rcx = 0x56780002, r.rdx = 0x3f8; });
  e.program.memory = {{0xffff, {0x11}}, {0x0, {0x22}}};
  e.accesses = {out(0x3f8, {0x11}), out(0x3f8, {0x22})};
  e.check_regs = [](const accel::Regs& r) {
    EXPECT_EQ(r.rsi, 0x12340001u);
    EXPECT_EQ(r.rcx, 0x56780000u);
  };
  list.push_back(e);

  e = program("rep_zero_count_long", vmm::BootMode::kLong, {0xf3, 0x6e},
              [](accel::Regs& r) { r.rsi = 0x20000, r.rcx = 0, r.rdx = 0x3f8; });
  e.check_regs = [](const accel::Regs& r) { EXPECT_EQ(r.rsi, 0x20000u); };
  list.push_back(e);
  return list;
}

}  // namespace ferry::test

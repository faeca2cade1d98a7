// The flag arithmetic at every operand size, against values worked out from the SDM.
#include <gtest/gtest.h>

#include "alu.h"
#include "ferry/x86/cpu_state.h"

namespace ferry::x86 {
namespace {

constexpr uint64_t CF = kRflagsCf, PF = kRflagsPf, AF = kRflagsAf, ZF = kRflagsZf, SF = kRflagsSf,
                   OF = kRflagsOf;

struct Case {
  AluOp op;
  uint64_t a, b;
  unsigned bytes;
  uint64_t carry_in;
  uint64_t value, flags;
};

TEST(AluTest, Table) {
  const Case cases[] = {
      {AluOp::kAdd, 0x7f, 1, 1, 0, 0x80, SF | OF | AF},
      {AluOp::kAdd, 0xff, 1, 1, 0, 0, CF | ZF | AF | PF},
      {AluOp::kAdd, 0x7fff, 1, 2, 0, 0x8000, SF | OF | AF | PF},
      {AluOp::kAdd, 0xffffffffffffffff, 1, 8, 0, 0, CF | ZF | AF | PF},
      {AluOp::kAdd, 0x8000000000000000, 0x8000000000000000, 8, 0, 0, CF | ZF | OF | PF},
      {AluOp::kAdc, 0xffffffffffffffff, 0xffffffffffffffff, 8, CF, 0xffffffffffffffff,
       CF | SF | AF | PF},
      {AluOp::kAdc, 0xff, 0, 1, CF, 0, CF | ZF | AF | PF},
      {AluOp::kSub, 0, 1, 4, 0, 0xffffffff, CF | SF | AF | PF},
      {AluOp::kSub, 0x80, 1, 1, 0, 0x7f, OF | AF},
      {AluOp::kSbb, 0, 0xffffffffffffffff, 8, CF, 0, CF | ZF | AF | PF},
      {AluOp::kSbb, 5, 4, 2, CF, 0, ZF | PF},
      {AluOp::kAnd, 0x0f, 0xf0, 1, CF, 0, ZF | PF},
      {AluOp::kOr, 0x8000, 0x1, 2, 0, 0x8001, SF},
      {AluOp::kXor, 0x3, 0x0, 4, 0, 0x3, PF},
  };
  for (const Case& c : cases) {
    const AluResult r = alu(c.op, c.a, c.b, c.bytes, c.carry_in);
    EXPECT_EQ(r.value, c.value) << static_cast<int>(c.op) << " " << c.a << " " << c.b;
    EXPECT_EQ(r.flags, c.flags) << static_cast<int>(c.op) << " " << c.a << " " << c.b;
  }
}

TEST(AluTest, Conditions) {
  EXPECT_TRUE(condition_holds(0x0, OF));   // O
  EXPECT_FALSE(condition_holds(0x1, OF));  // NO
  EXPECT_TRUE(condition_holds(0x2, CF));   // B
  EXPECT_TRUE(condition_holds(0x6, ZF));   // BE
  EXPECT_FALSE(condition_holds(0x7, ZF));  // A
  EXPECT_TRUE(condition_holds(0xa, PF));   // P
  EXPECT_TRUE(condition_holds(0xc, SF));   // L: SF != OF
  EXPECT_FALSE(condition_holds(0xc, SF | OF));
  EXPECT_TRUE(condition_holds(0xe, ZF | SF | OF));  // LE
  EXPECT_TRUE(condition_holds(0xf, 0));             // G
}

}  // namespace
}  // namespace ferry::x86

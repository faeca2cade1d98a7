#include "ferry/vmm/console_tail.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/vmm/serial_output.h"

namespace ferry::vmm {
namespace {

using ::testing::ElementsAre;

void write(ConsoleTail& tail, const std::string& text) {
  for (char c : text) tail.put(static_cast<uint8_t>(c));
}

TEST(ConsoleTail, KeepsTheLastLinesOldestFirst) {
  ConsoleTail tail(3);
  EXPECT_TRUE(tail.lines().empty());
  write(tail, "one\ntwo\nthree\nfour\nfive\n");
  EXPECT_THAT(tail.lines(), ElementsAre("three", "four", "five"));
}

TEST(ConsoleTail, TheUnfinishedLineCountsAndPushesTheOldestOut) {
  ConsoleTail tail(2);
  write(tail, "a\nb\nprompt# ");
  EXPECT_THAT(tail.lines(), ElementsAre("b", "prompt# "));
}

TEST(ConsoleTail, DropsCarriageReturnsAndEscapesAndCutsLongLines) {
  ConsoleTail tail;
  write(tail, "Kernel panic\r\n\x1b[0mok\t1\n" + std::string(2000, 'x') + "\n");
  const std::vector<std::string> lines = tail.lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "Kernel panic");
  EXPECT_EQ(lines[1], "[0mok\t1");
  EXPECT_EQ(lines[2], std::string(ConsoleTail::kMaxLineLength, 'x'));
}

TEST(ConsoleTail, DefaultKeepsTwentyLines) {
  ConsoleTail tail;
  for (int i = 0; i < 100; ++i) write(tail, std::to_string(i) + "\n");
  const std::vector<std::string> lines = tail.lines();
  ASSERT_EQ(lines.size(), 20u);
  EXPECT_EQ(lines.front(), "80");
  EXPECT_EQ(lines.back(), "99");
}

TEST(ConsoleTail, SerialOutputFeedsItEvenWhenDiscarding) {
  auto tail = std::make_shared<ConsoleTail>();
  SerialOutput output = SerialOutput::discard();
  output.keep_tail(tail);
  for (char c : std::string("end Kernel panic - not syncing\n"))
    output.put(static_cast<uint8_t>(c));
  EXPECT_THAT(tail->lines(), ElementsAre("end Kernel panic - not syncing"));
}

TEST(ConsoleTail, ReportHasAHeaderAndMarkedLines) {
  EXPECT_EQ(format_console_tail({}), "");
  EXPECT_EQ(format_console_tail({"Kernel panic - not syncing: VFS", "---[ end ]---"}),
            "ferry: the guest's last 2 console lines:\n"
            "  | Kernel panic - not syncing: VFS\n"
            "  | ---[ end ]---\n");
  EXPECT_EQ(format_console_tail({"x"}), "ferry: the guest's last 1 console line:\n  | x\n");
}

}  // namespace
}  // namespace ferry::vmm

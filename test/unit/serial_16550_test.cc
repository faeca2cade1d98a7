#include "ferry/vmm/serial_16550.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace ferry::vmm {
namespace {

using ::testing::InSequence;
using ::testing::StrictMock;

class MockIrqLine : public irq::IrqLine {
 public:
  MOCK_METHOD(void, set_level, (bool), (override));
};

constexpr uint64_t kThr = 0, kIer = 1, kIir = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7;

class Serial16550Test : public ::testing::Test {
 protected:
  Serial16550Test() : uart_(*SerialOutput::to_file(dir_.path() + "/out"), &irq_) {}
  uint8_t in(uint64_t reg) { return static_cast<uint8_t>(uart_.read_register(reg, 1)); }
  void out(uint64_t reg, uint8_t value) { uart_.write_register(reg, 1, value); }

  test::TempDir dir_;
  StrictMock<MockIrqLine> irq_;
  Serial16550 uart_;
};

TEST_F(Serial16550Test, TransmitsBytesAndIsAlwaysReady) {
  EXPECT_EQ(in(kLsr)&0x60, 0x60);
  for (char c : std::string("hi\n")) out(kThr, static_cast<uint8_t>(c));
  EXPECT_EQ(dir_.read("out"), "hi\n");
  EXPECT_EQ(in(kIir), 0x01);  // no interrupt pending
}

TEST_F(Serial16550Test, DivisorLatchHidesDataAndIer) {
  out(kLcr, 0x80);
  out(kThr, 0x01);  // DLL
  out(kIer, 0x02);  // DLM
  EXPECT_EQ(in(kThr), 0x01);
  EXPECT_EQ(in(kIer), 0x02);
  out(kLcr, 0x03);
  EXPECT_EQ(in(kIer), 0x00);
  EXPECT_EQ(dir_.read("out"), "");
  out(kScr, 0x5a);
  EXPECT_EQ(in(kScr), 0x5a);
}

TEST_F(Serial16550Test, ThrEmptyInterruptIsGatedByOut2AndAcknowledgedByIir) {
  out(kIer, 0x02);                 // pending, but OUT2 is low: no line change
  EXPECT_EQ(in(kIir)&0x0f, 0x02);  // reading IIR acknowledges it
  EXPECT_EQ(in(kIir)&0x0f, 0x01);
  InSequence order;
  EXPECT_CALL(irq_, set_level(true));
  EXPECT_CALL(irq_, set_level(false));
  EXPECT_CALL(irq_, set_level(true));
  EXPECT_CALL(irq_, set_level(false));
  out(kMcr, 0x08);  // OUT2
  out(kThr, 'x');   // THR empties at once: interrupt
  EXPECT_EQ(in(kIir)&0x0f, 0x02);
  out(kThr, 'y');
  out(kIer, 0x00);  // disabling the source drops the line
  EXPECT_EQ(dir_.read("out"), "xy");
}

TEST_F(Serial16550Test, LoopbackEchoesDataAndMirrorsModemControl) {
  out(kMcr, 0x10 | 0x01 | 0x02);  // loop, DTR, RTS
  EXPECT_EQ(in(kMsr), 0x30);      // DSR, CTS
  out(kThr, 0x42);
  EXPECT_EQ(in(kLsr)&0x01, 0x01);
  EXPECT_EQ(in(kThr), 0x42);
  EXPECT_EQ(in(kLsr)&0x01, 0x00);
  EXPECT_EQ(dir_.read("out"), "");  // looped bytes do not leave the chip
  out(kMcr, 0x00);
  EXPECT_EQ(in(kMsr), 0xb0);  // DCD, DSR, CTS when not looped
}

TEST_F(Serial16550Test, FifoControlShowsInIir) {
  out(kIir, 0x01);
  EXPECT_EQ(in(kIir), 0xc1);
}

constexpr uint8_t kLsrDataReady = 0x01, kLsrOverrun = 0x02;
constexpr int kFlood = 1'000'000;

// A guest that loops a million bytes back without reading must not grow ferry's memory: the
// 16550 keeps 16 bytes in its receive FIFO, drops the rest and reports an overrun.
TEST_F(Serial16550Test, LoopbackFloodFillsTheSixteenByteFifoThenOverruns) {
  out(kIir, 0x01);  // FIFOs on
  out(kMcr, 0x10);  // loop
  for (int i = 0; i < kFlood; ++i) out(kThr, static_cast<uint8_t>(i));
  EXPECT_EQ(in(kLsr) & (kLsrDataReady | kLsrOverrun), kLsrDataReady | kLsrOverrun);
  EXPECT_EQ(in(kLsr)&kLsrOverrun, 0);                        // reading LSR clears OE
  for (int i = 0; i < 16; ++i) EXPECT_EQ(in(kThr), i) << i;  // the first 16 bytes survive
  EXPECT_EQ(in(kLsr)&kLsrDataReady, 0);
  EXPECT_EQ(dir_.read("out"), "");
}

// With FIFOs off the receiver holds one byte; a new one overwrites it and sets OE (8250/16450).
TEST_F(Serial16550Test, LoopbackFloodWithoutFifoKeepsOneByte) {
  out(kMcr, 0x10);
  for (int i = 0; i < kFlood; ++i) out(kThr, static_cast<uint8_t>(i));
  EXPECT_EQ(in(kLsr) & (kLsrDataReady | kLsrOverrun), kLsrDataReady | kLsrOverrun);
  EXPECT_EQ(in(kThr), static_cast<uint8_t>(kFlood - 1));
  EXPECT_EQ(in(kLsr) & (kLsrDataReady | kLsrOverrun), 0);
}

TEST_F(Serial16550Test, OverrunRaisesTheLineStatusInterruptUntilLsrIsRead) {
  out(kIer, 0x04);         // receiver line status only
  out(kMcr, 0x10 | 0x08);  // loop, OUT2
  out(kThr, 'a');          // fills the holding register: no interrupt for data
  InSequence order;
  EXPECT_CALL(irq_, set_level(true));
  EXPECT_CALL(irq_, set_level(false));
  out(kThr, 'b');  // overrun
  EXPECT_EQ(in(kIir)&0x0f, 0x06);
  EXPECT_EQ(in(kLsr)&kLsrOverrun, kLsrOverrun);
  EXPECT_EQ(in(kIir)&0x0f, 0x01);
  EXPECT_EQ(in(kThr), 'b');
}

TEST_F(Serial16550Test, TurningFifosOnOrOffEmptiesThem) {
  out(kIir, 0x01);
  out(kMcr, 0x10);
  out(kThr, 'a');
  out(kThr, 'b');
  out(kIir, 0x00);  // FIFOs off: both bytes go
  EXPECT_EQ(in(kLsr)&kLsrDataReady, 0);
}

std::span<const uint8_t> bytes_of(const std::string& text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// The host console's input fills the 16-byte FIFO and no more: the caller keeps the rest, so
// nothing is lost and nothing overruns.
TEST_F(Serial16550Test, HostInputFillsTheFifoAndLeavesTheRestToTheCaller) {
  out(kIir, 0x01);  // FIFOs on
  EXPECT_EQ(in(kLsr)&kLsrDataReady, 0);
  const std::string text = "abcdefghijklmnopqrstuvwxyz";
  EXPECT_EQ(uart_.receive_input(bytes_of(text)), 16u);
  EXPECT_EQ(uart_.receive_input(bytes_of("z")), 0u);  // full
  EXPECT_EQ(in(kLsr) & (kLsrDataReady | kLsrOverrun), kLsrDataReady);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(in(kThr), text[i]) << i;
  EXPECT_EQ(in(kLsr)&kLsrDataReady, 0);
  EXPECT_EQ(uart_.receive_input(bytes_of(text.substr(16))), 10u);
  EXPECT_EQ(in(kThr), 'q');
}

TEST_F(Serial16550Test, HostInputWithoutFifoTakesOneByteAtATime) {
  EXPECT_EQ(uart_.receive_input(bytes_of("xy")), 1u);
  EXPECT_EQ(in(kThr), 'x');
  EXPECT_EQ(uart_.receive_input(bytes_of("y")), 1u);
  EXPECT_EQ(in(kThr), 'y');
}

// A guest in loopback hears only itself.
TEST_F(Serial16550Test, HostInputWaitsWhileTheGuestLoopsBack) {
  out(kMcr, 0x10);
  EXPECT_EQ(uart_.receive_input(bytes_of("x")), 0u);
  EXPECT_EQ(in(kLsr)&kLsrDataReady, 0);
}

// Received data raises the line (with OUT2) until the FIFO is drained, and IIR reports it
// before a pending THR-empty interrupt.
TEST_F(Serial16550Test, HostInputRaisesTheReceivedDataInterruptAheadOfThrEmpty) {
  out(kIir, 0x01);
  out(kMcr, 0x08);  // OUT2
  InSequence order;
  EXPECT_CALL(irq_, set_level(true));
  out(kIer, 0x03);  // received data and THR empty: THR empty is pending at once
  EXPECT_EQ(uart_.receive_input(bytes_of("ok")), 2u);
  EXPECT_EQ(in(kIir), 0xc4);  // received data first (FIFOs on)
  EXPECT_EQ(in(kThr), 'o');
  EXPECT_EQ(in(kIir), 0xc4);  // one byte left
  EXPECT_EQ(in(kThr), 'k');
  EXPECT_CALL(irq_, set_level(false));
  EXPECT_EQ(in(kIir), 0xc2);  // then THR empty, which this read acknowledges
  EXPECT_EQ(in(kIir), 0xc1);
}

// The line rises when the bytes arrive, not at the guest's next register access: a guest waiting
// in HLT for its keyboard must be woken.
TEST_F(Serial16550Test, HostInputRaisesTheLineAsItArrives) {
  out(kMcr, 0x08);  // OUT2
  out(kIer, 0x01);  // received data only
  EXPECT_CALL(irq_, set_level(true));
  EXPECT_EQ(uart_.receive_input(bytes_of("k")), 1u);
  ::testing::Mock::VerifyAndClearExpectations(&irq_);
  EXPECT_CALL(irq_, set_level(false));
  EXPECT_EQ(in(kThr), 'k');  // reading the last byte drops it
}

TEST_F(Serial16550Test, HostInputWithTheReceiveInterruptOffRaisesNothing) {
  out(kMcr, 0x08);
  EXPECT_EQ(uart_.receive_input(bytes_of("a")), 1u);  // StrictMock: no set_level
  EXPECT_EQ(in(kIir)&0x0f, 0x01);
  EXPECT_EQ(in(kLsr)&kLsrDataReady, kLsrDataReady);
}

}  // namespace
}  // namespace ferry::vmm

/* hostile_serial: a guest that abuses COM1, then floods it.
 * 1. Every value to every one of the UART's 8 registers (register by register, then value by
 *    value), byte, word and dword wide, with the divisor latch and loopback left on; reads of
 *    every register.
 * 2. A start line, a 64 KiB flood in loopback mode (the receive FIFO overruns and keeps 16
 *    bytes), then 32 KiB of 'a'-'z' sent with rep outsb without waiting for the transmitter,
 *    then an end line.
 * The test checks that every flood byte reached the serial file in order and that ferry's memory
 * did not grow with the flood. Exits 0, or 20+. */
#include "rt/guest.h"

/* Each byte is an exit to ferry (KVM does not batch OUTS) and a write() to the serial file:
 * about half a millisecond in the lab's nested KVM under TCG, so the floods are sized for that. */
#define FLOOD_BYTES (32u << 10)
#define LOOPBACK_BYTES (64u << 10)
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define LSR_DATA_READY 0x01
#define LSR_OVERRUN 0x02

static uint8_t chunk[4096];

static void rep_outsb(const uint8_t* p, uint64_t n) {
  __asm__ volatile("rep outsb" : "+S"(p), "+c"(n) : "d"((uint16_t)COM1) : "memory");
}

static void uart_reset(void) {
  outb(COM1 + UART_LCR, 0x03); /* 8N1, divisor latch off */
  outb(COM1 + UART_IER, 0);
  outb(COM1 + UART_MCR, 0x03);
  outb(COM1 + UART_FCR, 0x07); /* FIFOs on and cleared */
}

/* Reads what the receive FIFO holds (at most 4096: a FIFO that never empties is a failure). */
static uint32_t drain(void) {
  uint32_t drained = 0;
  while ((inb(COM1 + UART_LSR) & LSR_DATA_READY) && drained < 4096) {
    (void)inb(COM1);
    ++drained;
  }
  return drained;
}

int guest_main(uint32_t index, uint32_t count) {
  (void)index, (void)count;
  for (uint32_t reg = 0; reg < 8; ++reg) {
    for (uint32_t v = 0; v < 256; ++v) outb((uint16_t)(COM1 + reg), (uint8_t)v);
  }
  for (uint32_t v = 0; v < 256; ++v) {
    for (uint32_t reg = 0; reg < 8; ++reg) {
      outb((uint16_t)(COM1 + reg), (uint8_t)v);
      (void)inb((uint16_t)(COM1 + reg));
    }
    for (uint32_t reg = 0; reg < 8; reg += 2) outw((uint16_t)(COM1 + reg), (uint16_t)(v * 0x101));
    for (uint32_t reg = 0; reg < 8; reg += 4) outl((uint16_t)(COM1 + reg), v * 0x01010101u);
    (void)inw(COM1);
    (void)inl(COM1 + 4);
  }
  uart_reset();
  puts_serial("\nhostile_serial: registers abused; flood start\n");
  outb(COM1 + UART_MCR, 0x13); /* loopback: what is sent comes back into the receive FIFO */
  for (uint32_t i = 0; i < sizeof chunk; ++i) chunk[i] = (uint8_t)('a' + i % 26);
  for (uint32_t sent = 0; sent < LOOPBACK_BYTES; sent += sizeof chunk) {
    rep_outsb(chunk, sizeof chunk);
  }
  if (!(inb(COM1 + UART_LSR) & LSR_OVERRUN)) return 20;
  if (drain() != 16) return 21; /* the 16-byte FIFO kept the first bytes, no more */
  uart_reset();
  for (uint32_t sent = 0; sent < FLOOD_BYTES; sent += sizeof chunk) rep_outsb(chunk, sizeof chunk);
  puts_serial("\nhostile_serial: flood done, ");
  put_dec(FLOOD_BYTES);
  puts_serial(" bytes\n");
  return 0;
}

/* The freestanding runtime of ferry's test guests: port and MMIO access, a polled 16550 console,
 * and the exit port. Built for 16-bit (gcc -m16), 32-bit and 64-bit guests alike. */
#ifndef FERRY_GUEST_H
#define FERRY_GUEST_H

#include <stdint.h>

#include "ferry/guests/testdev.h"

#define COM1 0x3f8
#define UART_LSR 5
#define UART_LSR_THRE 0x20
#define UNUSED __attribute__((unused))

static inline void outb(uint16_t port, uint8_t v) {
  __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

static inline uint8_t mmio_read8(uintptr_t a) { return *(volatile uint8_t*)a; }
static inline uint16_t mmio_read16(uintptr_t a) { return *(volatile uint16_t*)a; }
static inline uint32_t mmio_read32(uintptr_t a) { return *(volatile uint32_t*)a; }
static inline void mmio_write8(uintptr_t a, uint8_t v) { *(volatile uint8_t*)a = v; }
static inline void mmio_write16(uintptr_t a, uint16_t v) { *(volatile uint16_t*)a = v; }
static inline void mmio_write32(uintptr_t a, uint32_t v) { *(volatile uint32_t*)a = v; }
#if defined(__x86_64__)
static inline uint64_t mmio_read64(uintptr_t a) { return *(volatile uint64_t*)a; }
static inline void mmio_write64(uintptr_t a, uint64_t v) { *(volatile uint64_t*)a = v; }
#endif

static inline void cpu_relax(void) { __asm__ volatile("pause"); }

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

/* Timeouts are measured in TSC cycles, not loop iterations: on a host that emulates guest
 * instructions (PVM) a loop iteration takes microseconds, on hardware nanoseconds. 2^33 cycles is
 * seconds at any TSC rate from 1 to 5 GHz. */
#define TIMEOUT_CYCLES (1ull << 33)

/* Waits about `cycles` TSC cycles. */
static UNUSED void delay_cycles(uint64_t cycles) {
  const uint64_t start = rdtsc();
  while (rdtsc() - start < cycles) cpu_relax();
}

/* Spins until *counter reaches `count`; 0 on timeout (deliveries take microseconds, so a timeout
 * means the event was lost). */
static UNUSED int wait_until(volatile uint32_t* counter, uint32_t count) {
  const uint64_t start = rdtsc();
  while (*counter < count) {
    if (rdtsc() - start > TIMEOUT_CYCLES) return 0;
    cpu_relax();
  }
  return 1;
}

static UNUSED void putc_serial(char c) {
  while (!(inb(COM1 + UART_LSR) & UART_LSR_THRE)) cpu_relax();
  outb(COM1, (uint8_t)c);
}

static UNUSED void puts_serial(const char* s) {
  while (*s) putc_serial(*s++);
}

static UNUSED void put_dec(uint32_t v) {
  char buf[11];
  int i = 0;
  do {
    buf[i++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (i) putc_serial(buf[--i]);
}

static UNUSED void put_hex(uint32_t v) {
  puts_serial("0x");
  for (int shift = 28; shift >= 0; shift -= 4) putc_serial("0123456789abcdef"[(v >> shift) & 0xf]);
}

static inline __attribute__((noreturn)) void guest_exit(uint8_t code) {
  outb(FERRY_EXIT_PORT, code);
  for (;;) __asm__ volatile("cli; hlt");
}

/* Every guest defines this; vCPU `index` of `count` enters it (ferry's boot protocol). The
 * return value becomes the exit status. */
int guest_main(uint32_t index, uint32_t count);

#endif

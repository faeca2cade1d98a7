/* ioapic: the legacy interrupt path. The UART (COM1) raises IOAPIC pin 4; ferry's IOAPIC turns
 * it into an MSI. First edge-triggered: enabling the THR-empty interrupt and sending a byte each
 * raise one interrupt. Then level-triggered: the handler leaves the line asserted once and only
 * EOIs, so the EOI must come back to the IOAPIC (a vCPU EOI exit) and the interrupt must fire
 * again; the second time the handler acknowledges the UART, the line drops, and the interrupts
 * stop.
 *
 * "Stop" allows one delivery beyond the second: under CPU contention this PVM host sometimes
 * reports one guest EOI as two EOI exits (seen in the VMM as a second EOI before the handler's
 * second run), and a second EOI while the line is still up rightly fires again. A storm, or a pin
 * left in Remote IRR, still fails. (ferry's EOI logic itself is pinned exactly by the IOAPIC unit
 * tests.) Exits 0, or 20+ on failure, with the level handler's history. */
#include "rt/interrupts64.h"

#define PIN_COM1 4
#define VECTOR_EDGE 0x30
#define VECTOR_LEVEL 0x31
#define RTE_LEVEL (1u << 15)
#define RTE_REMOTE_IRR (1u << 14)
#define RTE_MASKED (1u << 16)

#define UART_IER 1
#define UART_IIR 2
#define UART_MCR 4
#define IER_THR_EMPTY 0x02
#define MCR_OUT2 0x08

static volatile uint32_t received[256];

/* What each run of the level handler saw, printed when a check fails. */
struct level_run {
  uint32_t count;  /* received[VECTOR_LEVEL] in this run */
  uint32_t acked;  /* whether it read IIR (dropping the line) */
  uint64_t tsc;
};
static volatile struct level_run level_runs[8];

static void route_com1(uint32_t low) {
  ioapic_write(0x10 + 2 * PIN_COM1 + 1, lapic_id() << 24);
  ioapic_write(0x10 + 2 * PIN_COM1, low);
}

void on_interrupt(uint64_t vector) {
  uint32_t n = ++received[vector & 0xff];
  /* The level handler acknowledges the UART only on its second run. */
  const int ack = vector == VECTOR_EDGE || n >= 2;
  if (ack) (void)inb(COM1 + UART_IIR);
  if (vector == VECTOR_LEVEL && n <= 8) {
    level_runs[n - 1] = (struct level_run){n, (uint32_t)ack, rdtsc()};
  }
  lapic_eoi();
}

static int fail_with_history(int status) {
  outb(COM1 + UART_IER, 0); /* printing must not raise more interrupts */
  puts_serial("\nioapic: level handler runs:");
  for (uint32_t i = 0; i < received[VECTOR_LEVEL] && i < 8; ++i) {
    puts_serial(" [count ");
    put_dec(level_runs[i].count);
    puts_serial(level_runs[i].acked ? " acked" : " not acked");
    puts_serial(" tsc+");
    put_dec((uint32_t)((level_runs[i].tsc - level_runs[0].tsc) >> 10));
    puts_serial("K]");
  }
  puts_serial("\n");
  return status;
}

INTERRUPT_STUB(0x30)
INTERRUPT_STUB(0x31)

int guest_main(uint32_t index, uint32_t count) {
  (void)index, (void)count;
  if ((ioapic_read(0x01) & 0xff) != 0x20 || ((ioapic_read(0x01) >> 16) & 0xff) != 23) return 20;
  if (!(ioapic_read(0x10 + 2 * PIN_COM1) & RTE_MASKED)) return 21; /* pins start masked */
  set_gate(VECTOR_EDGE, stub_0x30);
  set_gate(VECTOR_LEVEL, stub_0x31);
  load_idt();
  enable_lapic_and_interrupts();

  route_com1(VECTOR_EDGE);
  outb(COM1 + UART_MCR, MCR_OUT2);
  outb(COM1 + UART_IER, IER_THR_EMPTY); /* THR is empty: interrupt at once */
  if (!wait_until(&received[VECTOR_EDGE], 1)) return 22;
  outb(COM1, '.'); /* THR empties again: a second edge */
  if (!wait_until(&received[VECTOR_EDGE], 2)) return 23;

  route_com1(VECTOR_EDGE | RTE_MASKED);
  outb(COM1, '.'); /* asserts the line while the pin is masked */
  route_com1(VECTOR_LEVEL | RTE_LEVEL); /* unmasking a level pin that is asserted fires it */
  if (!wait_until(&received[VECTOR_LEVEL], 2)) return fail_with_history(24);
  delay_cycles(1ull << 28); /* give wrong deliveries time to arrive */
  if (level_runs[0].acked || !level_runs[1].acked) return fail_with_history(25);
  if (received[VECTOR_LEVEL] > 3) return fail_with_history(25);
  if (ioapic_read(0x10 + 2 * PIN_COM1) & RTE_REMOTE_IRR) return fail_with_history(26);
  if (received[VECTOR_EDGE] != 2) return 27;

  outb(COM1 + UART_IER, 0);
  route_com1(RTE_MASKED);
  puts_serial("\nioapic: 2 edge interrupts, and a level interrupt re-fired after its EOI\n");
  return 0;
}

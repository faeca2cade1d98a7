/* hostile_irq: a guest that feeds ferry's interrupt sources garbage, then proves they still work.
 * 1. MSI-X: entry 0 of the pci-test device gets messages that are not interrupts (addresses
 *    outside the local APIC window or with the upper half set, vectors 0-15 fixed and lowest
 *    priority, SMI, ExtINT and the reserved delivery modes), reserved bits in the vector control
 *    and address, writes of the wrong width, past the table and into the PBA; each garbage entry
 *    is unmasked and rung. Nothing may arrive (on any vector), the device counts each ring as
 *    dropped, and afterwards every vector delivers exactly once.
 * 2. The same for the platform test device's single MSI.
 * 3. The IOAPIC: every register index through the select register, each written with 36 bit
 *    patterns (all ones, none, alternating, each single bit); what reads back is what the
 *    architecture lets stick. Then the UART's pin (4) is fired with every refused message, edge
 *    and level: nothing arrives and no Remote IRR sticks; an NMI and a fixed vector still do.
 * Needs one pci-test device. Exits 0, or the failed check's number (20+). */
#include "rt/checks.h"
#include "rt/interrupts64.h"
#include "rt/pci_config.h"

#define GOOD_VECTOR 0x40
#define UART_VECTOR 0x30
#define NMI_VECTOR 2
#define REGS_AT (FERRY_PCI_MMIO32_BASE + 0x100000u)
#define MSIX_AT (FERRY_PCI_MMIO32_BASE + 0x200000u) /* the 64-bit BAR, placed below 4 GiB */
#define APIC0 0xfee00000u

static volatile uint32_t received[256];
static volatile uint32_t total;
static volatile uint32_t in_nmi_phase;

void on_interrupt(uint64_t vector) {
  received[vector & 0xff]++;
  total++;
  if (vector == UART_VECTOR) (void)inb(COM1 + 2); /* IIR: acknowledges THR empty */
  if (!(vector == NMI_VECTOR && in_nmi_phase)) lapic_eoi();
}

/* Gates for vectors 0-31 (what a wrongly delivered illegal vector would land on), 0x30, 0x40-0x47. */
#define STUBS(X)                                                                                  \
  X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16)   \
  X(17) X(18) X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26) X(27) X(28) X(29) X(30) X(31)     \
  X(48) X(64) X(65) X(66) X(67) X(68) X(69) X(70) X(71)
STUBS(INTERRUPT_STUB)
#define GATE(v) set_gate(v, stub_##v);

static int failed(int code, const char* what) {
  print_failed_check("hostile_irq", code, what);
  puts_serial(", interrupts so far ");
  put_dec(total);
  puts_serial(")\n");
  return code;
}

/* Time for a wrongly routed interrupt to arrive (an irqfd MSI is injected before the exit that
 * raised it returns, so this is margin). */
static void linger(void) { delay_cycles(1ull << 21); }

static uint32_t slot_;
static uint32_t reg(uint32_t offset) { return mmio_read32(REGS_AT + offset); }
static void ring(uint32_t vector) { mmio_write32(REGS_AT + FERRY_PCITEST_DOORBELL, vector); }
static uintptr_t entry(uint32_t i) { return MSIX_AT + FERRY_PCITEST_MSIX_TABLE + 16 * i; }
static uint64_t pba(void) { return mmio_read64(MSIX_AT + FERRY_PCITEST_MSIX_PBA); }

static void program_entry(uint32_t i, uint32_t lo, uint32_t hi, uint32_t data) {
  mmio_write32(entry(i) + 12, 1);
  mmio_write32(entry(i), lo);
  mmio_write32(entry(i) + 4, hi);
  mmio_write32(entry(i) + 8, data);
}

struct message {
  uint32_t lo, hi, data;
};
static const struct message kGarbage[] = {
    {0x00000000u, 0, GOOD_VECTOR},      /* RAM at 0: KVM would read APIC ID 0 from it */
    {0x00100000u, 0, GOOD_VECTOR},      /* RAM */
    {0xfed00000u, 0, GOOD_VECTOR},      /* below the window */
    {0xfef00000u, 0, GOOD_VECTOR},      /* past it */
    {APIC0, 0xdeadu, GOOD_VECTOR},      /* the window, but above 4 GiB */
    {APIC0, 1, GOOD_VECTOR},            /* the same, one bit */
    {APIC0, 0, 0x200 | GOOD_VECTOR},    /* SMI */
    {APIC0, 0, 0x300 | GOOD_VECTOR},    /* reserved */
    {APIC0, 0, 0x600 | GOOD_VECTOR},    /* reserved */
    {APIC0, 0, 0x700 | GOOD_VECTOR},    /* ExtINT */
};

static int msix_refuses(uint32_t lo, uint32_t hi, uint32_t data) {
  const uint32_t dropped = reg(FERRY_PCITEST_DROPPED), sent = reg(FERRY_PCITEST_SENT);
  const uint32_t before = total;
  failed_detail = (hi << 24) ^ lo ^ data;
  program_entry(0, lo, hi, data);
  CHECK(30, mmio_read32(entry(0)) == (lo & ~3u), "the address reads back dword-aligned");
  CHECK(31, mmio_read32(entry(0) + 4) == hi && mmio_read32(entry(0) + 8) == data,
        "the upper address and the data read back");
  mmio_write32(entry(0) + 12, 0); /* unmasked */
  ring(0);
  linger();
  CHECK(32, total == before, "a message that is not an interrupt arrives nowhere");
  CHECK(33, reg(FERRY_PCITEST_DROPPED) == dropped + 1 && reg(FERRY_PCITEST_SENT) == sent,
        "the device counts it dropped, not sent");
  CHECK(34, pba() == 0, "and leaves nothing pending to go out later");
  mmio_write32(entry(0) + 12, 1);
  return 0;
}

static int msix_garbage(void) {
  slot_ = find_pci_test();
  CHECK(20, slot_ < 32, "a pci-test device");
  cf8_write16(slot_, PCI_COMMAND, 0);
  cf8_write32(slot_, 0x10, REGS_AT);
  cf8_write32(slot_, 0x18, MSIX_AT);
  cf8_write32(slot_, 0x1c, 0);
  cf8_write16(slot_, PCI_COMMAND, PCI_CMD_MEMORY | PCI_CMD_BUS_MASTER);
  CHECK(21, reg(FERRY_PCITEST_ID) == FERRY_PCITEST_MAGIC, "BAR 0 answers");
  const uint32_t msix = find_capability(slot_, 0x11);
  CHECK(22, msix != 0, "an MSI-X capability");
  cf8_write16(slot_, msix + 2, PCI_MSIX_ENABLE);

  for (unsigned i = 0; i < sizeof kGarbage / sizeof kGarbage[0]; ++i) {
    int result = msix_refuses(kGarbage[i].lo, kGarbage[i].hi, kGarbage[i].data);
    if (result) return result;
  }
  for (uint32_t mode = 0; mode < 2; ++mode) {
    for (uint32_t vector = 0; vector < 16; ++vector) {
      int result = msix_refuses(APIC0, 0, mode << 8 | vector);
      if (result) return result;
    }
  }
  puts_serial("hostile_irq: 42 MSI-X messages that are not interrupts: none delivered\n");

  /* Reserved bits, wrong widths, writes past the table and into the PBA. */
  program_entry(1, APIC0, 0, GOOD_VECTOR + 1);
  mmio_write32(entry(1) + 12, 0xfffffffeu);
  CHECK(40, mmio_read32(entry(1) + 12) == 0, "reserved vector-control bits read 0");
  mmio_write32(entry(1) + 12, 1);
  mmio_write8(entry(1) + 8, 0x05);
  mmio_write16(entry(1) + 8, 0x0005);
  mmio_write32(entry(1) + 9, 0x05050505u);
  CHECK(41, mmio_read32(entry(1) + 8) == GOOD_VECTOR + 1, "byte, word and unaligned writes drop");
  for (uint32_t offset = 16 * FERRY_PCITEST_VECTORS; offset < FERRY_PCITEST_MSIX_SIZE; offset += 4) {
    mmio_write32(MSIX_AT + offset, 0xffffffffu);
  }
  CHECK(42, pba() == 0, "the PBA is read-only");
  CHECK(43, mmio_read32(entry(1)) == APIC0 && mmio_read32(entry(7) + 12) == 1,
        "writes past the table touch no entry");

  /* Afterwards every vector delivers, each exactly once. */
  const uint32_t sent = reg(FERRY_PCITEST_SENT);
  for (uint32_t i = 0; i < FERRY_PCITEST_VECTORS; ++i) {
    program_entry(i, APIC0 | lapic_id() << 12, 0, GOOD_VECTOR + i);
    mmio_write32(entry(i) + 12, 0);
    ring(i);
    failed_detail = i;
    CHECK(44, wait_until(&received[GOOD_VECTOR + i], 1), "a good message arrives");
  }
  linger();
  for (uint32_t i = 0; i < FERRY_PCITEST_VECTORS; ++i) {
    failed_detail = i;
    CHECK(45, received[GOOD_VECTOR + i] == 1, "exactly once");
  }
  CHECK(46, reg(FERRY_PCITEST_SENT) == sent + FERRY_PCITEST_VECTORS, "8 sent");
  CHECK(47, total == FERRY_PCITEST_VECTORS, "and nothing else arrived");
  puts_serial("hostile_irq: then 8 MSI-X vectors delivered, each exactly once\n");
  for (uint32_t i = 0; i < FERRY_PCITEST_VECTORS; ++i) mmio_write32(entry(i) + 12, 1);
  return 0;
}

/* The platform test device's one MSI: garbage, then a good message. */
static int testdev_garbage(void) {
  const uintptr_t dev = FERRY_TESTDEV_BASE;
  const uint32_t before = total;
  for (unsigned i = 0; i < sizeof kGarbage / sizeof kGarbage[0]; ++i) {
    mmio_write32(dev + FERRY_TESTDEV_MSI_ADDR_LO, kGarbage[i].lo);
    mmio_write32(dev + FERRY_TESTDEV_MSI_ADDR_HI, kGarbage[i].hi);
    mmio_write32(dev + FERRY_TESTDEV_MSI_DATA, kGarbage[i].data);
    mmio_write32(dev + FERRY_TESTDEV_MSI_DOORBELL, 1);
  }
  mmio_write32(dev + FERRY_TESTDEV_MSI_ADDR_LO, APIC0);
  mmio_write32(dev + FERRY_TESTDEV_MSI_ADDR_HI, 0);
  mmio_write32(dev + FERRY_TESTDEV_MSI_DATA, 7); /* an illegal vector */
  mmio_write32(dev + FERRY_TESTDEV_MSI_DOORBELL, 1);
  linger();
  CHECK(50, total == before, "the test device's garbage MSIs arrive nowhere");
  CHECK(51, mmio_read32(dev + FERRY_TESTDEV_MSI_SENT) == 0, "and are not counted as sent");
  mmio_write32(dev + FERRY_TESTDEV_MSI_ADDR_LO, APIC0 | lapic_id() << 12);
  mmio_write32(dev + FERRY_TESTDEV_MSI_DATA, GOOD_VECTOR);
  mmio_write32(dev + FERRY_TESTDEV_MSI_DOORBELL, 1);
  CHECK(52, wait_until(&received[GOOD_VECTOR], 2), "then a good one arrives");
  linger();
  CHECK(53, received[GOOD_VECTOR] == 2 && total == before + 1, "once, and nothing pending with it");
  puts_serial("hostile_irq: test device: 11 garbage MSIs dropped, then one delivered once\n");
  return 0;
}

/* What an IOAPIC register keeps of a write (ferry's IOAPIC, docs/irq.md). */
static uint32_t kept(uint32_t index, uint32_t value) {
  if (index == 0x00) return value & 0x0f000000u; /* ID */
  if (index == 0x01) return 0x00170020u;         /* version: read-only */
  if (index >= 0x10 && index < 0x10 + 48) return index % 2 ? value & 0xff000000u : value & 0x1afffu;
  return 0;
}

#define PIN_COM1 4
#define REDIRECTION(pin) (0x10 + 2 * (pin))
#define RTE_LEVEL (1u << 15)
#define RTE_REMOTE_IRR (1u << 14)
#define RTE_MASKED (1u << 16)

// The sweep's 36 patterns: 0, all ones, 0x55.., 0xaa.., then each single bit. (A function, not
// a partly initialized array, which clang would fill with a call to memset the guest lacks.)
static uint32_t pattern(int p) {
  static const uint32_t kFirst[4] = {0, 0xffffffffu, 0x55555555u, 0xaaaaaaaau};
  return p < 4 ? kFirst[p] : 1u << (p - 4);
}

static int ioapic_sweep(void) {
  uint32_t writes = 0;
  const uint32_t before = total;
  for (uint32_t index = 0; index < 256; ++index) {
    for (int p = 0; p < 36; ++p) {
      ioapic_write(index, pattern(p));
      ++writes;
      failed_detail = index << 16 | (uint32_t)p;
      const uint32_t expected = index == 0x02 ? ioapic_read(0x00) : kept(index, pattern(p));
      CHECK(60, ioapic_read(index) == expected, "a register keeps what it may");
    }
  }
  for (uint32_t vector = 0; vector < 256; ++vector) mmio_write32(IOAPIC_BASE + 0x40, vector);
  for (uint32_t pin = 0; pin < 24; ++pin) {
    ioapic_write(REDIRECTION(pin) + 1, 0);
    ioapic_write(REDIRECTION(pin), RTE_MASKED);
  }
  linger();
  CHECK(62, total == before, "no line was up: nothing fired");
  CHECK(63, ioapic_read(0x01) == 0x00170020u, "still version 0x20 with 24 pins");
  puts_serial("hostile_irq: IOAPIC: ");
  put_dec(writes);
  puts_serial(" writes to all 256 register indices, each read back as the architecture keeps it\n");
  return 0;
}

/* Raises the UART's line afresh (an edge): THR-empty interrupt off, then on. */
static void uart_edge(void) {
  outb(COM1 + 1, 0);
  outb(COM1 + 1, 0x02);
}

static void route_com1(uint32_t low) {
  ioapic_write(REDIRECTION(PIN_COM1) + 1, lapic_id() << 24);
  ioapic_write(REDIRECTION(PIN_COM1), low);
}

static int ioapic_refused(uint32_t low) {
  const uint32_t before = total;
  failed_detail = low;
  route_com1(RTE_MASKED);
  uart_edge();
  route_com1(low); /* a level pin fires at unmask: the line is up */
  uart_edge();
  linger();
  CHECK(70, total == before, "a refused IOAPIC message arrives nowhere");
  CHECK(71, !(ioapic_read(REDIRECTION(PIN_COM1)) & RTE_REMOTE_IRR), "and sets no Remote IRR");
  outb(COM1 + 1, 0);
  return 0;
}

static int ioapic_fire(void) {
  outb(COM1 + 4, 0x08); /* MCR OUT2: the UART drives its line */
  uint32_t cases = 0;
  for (uint32_t trigger = 0; trigger < 2; ++trigger) {
    const uint32_t level = trigger ? RTE_LEVEL : 0;
    for (uint32_t mode = 0; mode < 2; ++mode) {
      for (uint32_t vector = 0; vector < 16; ++vector, ++cases) {
        int result = ioapic_refused(level | mode << 8 | vector);
        if (result) return result;
      }
    }
    const uint32_t refused_modes[] = {2, 3, 6, 7};
    for (int i = 0; i < 4; ++i, ++cases) {
      int result = ioapic_refused(level | refused_modes[i] << 8 | GOOD_VECTOR);
      if (result) return result;
    }
  }
  puts_serial("hostile_irq: IOAPIC: ");
  put_dec(cases);
  puts_serial(" refused messages fired, edge and level: none delivered, no Remote IRR\n");

  const uint32_t before = total;
  in_nmi_phase = 1;
  route_com1(RTE_MASKED);
  outb(COM1 + 1, 0);
  route_com1(4u << 8); /* NMI, edge */
  uart_edge();
  CHECK(72, wait_until(&received[NMI_VECTOR], 1), "an NMI through the IOAPIC arrives");
  route_com1(RTE_MASKED);
  outb(COM1 + 1, 0);
  in_nmi_phase = 0;
  route_com1(UART_VECTOR);
  uart_edge();
  CHECK(73, wait_until(&received[UART_VECTOR], 1), "a fixed vector through the IOAPIC arrives");
  linger();
  outb(COM1 + 1, 0);
  route_com1(RTE_MASKED);
  CHECK(74, received[NMI_VECTOR] == 1 && received[UART_VECTOR] == 1 && total == before + 2,
        "each once");
  puts_serial("hostile_irq: IOAPIC: then an NMI and a fixed vector, each delivered once\n");
  return 0;
}

int guest_main(uint32_t index, uint32_t count) {
  (void)index, (void)count;
  STUBS(GATE)
  load_idt();
  enable_lapic_and_interrupts();
  int result = msix_garbage();
  if (!result) result = testdev_garbage();
  if (!result) result = ioapic_sweep();
  if (!result) result = ioapic_fire();
  if (!result) puts_serial("hostile_irq: all checks passed\n");
  return result;
}

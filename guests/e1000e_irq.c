/* e1000e-irq: takes interrupts from an assigned Intel 82574 (8086:10d3; QEMU's e1000e in the lab)
 * the way a driver would, first through INTx and the IOAPIC, then through MSI. The device raises
 * them on demand: a write of a cause bit to ICS sets it in ICR, and while that cause is enabled
 * in IMS the device interrupts until ICR is read.
 *
 *   1. finds 8086:10d3 (bus 0 or below a root port) through ECAM, sizes BAR 0 (128 KiB of
 *      registers), turns on memory decoding and bus mastering;
 *   2. quiesces it: every cause masked (IMC), auto-masking off (CTRL_EXT.IAME, IAM), ICR clear;
 *   3. INTx: routes the IOAPIC pin in Interrupt Line (level, active high, vector 0x50), clears
 *      INTx Disable, enables one cause (MDAC) and raises it 3 times through ICS; the handler reads
 *      ICR, which drops the line, then EOIs. Then, with the cause masked, ICS must not interrupt;
 *   4. MSI: sets INTx Disable, masks the pin, programs the MSI capability (one vector, 0x51 on
 *      this vCPU) and raises the cause 3 times again.
 * INTx comes first because ferry turns an assigned device's INTx off for good once the guest
 * enables MSI or MSI-X.
 *
 * The device facts used (QEMU hw/net/e1000e_core.c, Linux drivers/net/ethernet/intel/e1000e):
 * while a cause stays set in ICR & IMS the device holds INTx asserted, so each handler clears ICR
 * before the next ICS; reading ICR clears it while MSI-X is off (and always when IMS is 0), and
 * writing ICR clears the bits written. With CTRL_EXT.IAME set an ICR read would also clear the IAM
 * bits from IMS, so the quiesce turns that off. ITR throttling (500 x 256 ns after reset, and no
 * write can go lower) can postpone an interrupt by up to 128 us, never drop it while its cause
 * stays set. Under MSI, QEMU 7.2's e1000e (the lab's) also sends the MSI again each time that
 * throttle expires with the cause still unread (e1000e_intrmgr_on_throttling_timer forgets what it
 * sent); the lab's nested path often takes longer than 128 us to reach the handler, so such a
 * re-send arrives after the handler has read ICR and finds the cause clear. Those are the device's,
 * not ferry's (ferry is not on the VFIO MSI path: vfio signals KVM's irqfd directly), so the MSI
 * step counts them apart and fails only on a lost cause or a cause taken twice. Exactly-once
 * delivery through ferry's own paths is the hostile-irq guest's check.
 *
 * Waits spin with interrupts enabled and give up after TIMEOUT_CYCLES: hlt would need a wake-up
 * source that no other guest relies on (the LAPIC timer), and a lost interrupt must fail, not
 * hang. Exits 0, or 21-24 for the step that failed (after an "e1000e: FAIL: ..." line). One vCPU
 * drives the device; others park. */
#include "ferry/guests/pcitest.h"
#include "rt/interrupts64.h"
#include "rt/pci_find.h"

#define E1000E_VENDOR 0x8086u
#define E1000E_DEVICE 0x10d3u
#define E1000E_BAR0_SIZE 0x20000u

/* Registers in BAR 0. */
#define REG_STATUS 0x0008u
#define REG_CTRL_EXT 0x0018u
#define REG_ICR 0x00c0u /* cause read; cleared on read while MSI-X is off */
#define REG_ICS 0x00c8u /* cause set */
#define REG_IMS 0x00d0u /* mask set (enable) and read */
#define REG_IMC 0x00d8u /* mask clear (disable) */
#define REG_IAM 0x00e0u /* causes IAME masks on an ICR read */
#define CTRL_EXT_IAME (1u << 27)
#define CAUSE_MDAC (1u << 9) /* "MDI/O access complete": never raised unless asked for */
#define CAUSE CAUSE_MDAC

/* Configuration space. */
#define CFG_ID 0x00
#define CFG_COMMAND 0x04
#define CFG_STATUS 0x06
#define CFG_BAR0 0x10
#define CFG_CAPABILITIES 0x34
#define CFG_INTERRUPT_LINE 0x3c
#define CFG_INTERRUPT_PIN 0x3d
#define CMD_MEMORY (1u << 1)
#define CMD_BUS_MASTER (1u << 2)
#define CMD_INTX_DISABLE (1u << 10)
#define STATUS_CAPABILITIES (1u << 4)
#define CAP_MSI 0x05
#define MSI_CONTROL 2
#define MSI_ADDRESS 4
#define MSI_ENABLE (1u << 0)
#define MSI_MMC_MASK (7u << 1) /* Multiple Message Capable */
#define MSI_MME_MASK (7u << 4) /* Multiple Message Enable */
#define MSI_64BIT (1u << 7)
#define MSI_PER_VECTOR_MASK (1u << 8)

/* ferry's IOAPIC (guests/ioapic.c). */
#define IOAPIC_VERSION 0x01
#define RTE_REMOTE_IRR (1u << 14)
#define RTE_LEVEL (1u << 15)
#define RTE_MASKED (1u << 16)

#define VECTOR_INTX 0x50
#define VECTOR_MSI 0x51
#define ROUNDS 3

#define STEP_FIND 21
#define STEP_QUIESCE 22
#define STEP_INTX 23
#define STEP_MSI 24

static uint32_t slot_;
static uintptr_t regs_;
static uint32_t ioapic_pin_;
static volatile uint32_t received[256];
static volatile uint32_t with_cause[256];    /* handler runs that found CAUSE set in ICR */
static volatile uint32_t without_cause[256]; /* handler runs that found CAUSE clear in ICR */
static volatile uint32_t last_icr[256];

static uint32_t reg(uint32_t offset) { return mmio_read32(regs_ + offset); }
static void set_reg(uint32_t offset, uint32_t v) { mmio_write32(regs_ + offset, v); }

/* ECAM, bus 0, function 0. */
static uintptr_t cfg(uint32_t slot, uint32_t offset) {
  return FERRY_PCI_ECAM_BASE + (slot << 15 | offset);
}
static uint8_t cfg_read8(uint32_t offset) { return mmio_read8(cfg(slot_, offset)); }
static uint16_t cfg_read16(uint32_t offset) { return mmio_read16(cfg(slot_, offset)); }
static uint32_t cfg_read32(uint32_t offset) { return mmio_read32(cfg(slot_, offset)); }
static void cfg_write16(uint32_t offset, uint16_t v) { mmio_write16(cfg(slot_, offset), v); }
static void cfg_write32(uint32_t offset, uint32_t v) { mmio_write32(cfg(slot_, offset), v); }

static uint32_t rte_low(void) { return ioapic_read(IOAPIC_REDIRECTION + 2 * ioapic_pin_); }
static void route_pin(uint32_t low) {
  ioapic_write(IOAPIC_REDIRECTION + 2 * ioapic_pin_ + 1, lapic_id() << 24);
  ioapic_write(IOAPIC_REDIRECTION + 2 * ioapic_pin_, low);
}

/* Both vectors: read ICR (for INTx this drops the line before the EOI lets the pin fire again),
 * count, EOI. */
void on_interrupt(uint64_t vector) {
  const uint32_t icr = reg(REG_ICR);
  last_icr[vector & 0xff] = icr;
  if (icr & CAUSE) {
    with_cause[vector & 0xff]++;
  } else {
    without_cause[vector & 0xff]++;
  }
  received[vector & 0xff]++;
  lapic_eoi();
}

INTERRUPT_STUB(0x50)
INTERRUPT_STUB(0x51)

static int fail(int status, const char* what) {
  puts_serial("e1000e: FAIL: ");
  puts_serial(what);
  puts_serial("\n");
  if (regs_ != 0) set_reg(REG_IMC, 0xffffffffu); /* leave the device silent */
  return status;
}

/* The device's interrupt state, printed after a failed wait. */
static void put_state(void) {
  puts_serial("e1000e:   IMS ");
  put_hex(reg(REG_IMS));
  puts_serial(" ICS (reads as ICR) ");
  put_hex(reg(REG_ICS));
  puts_serial(" command ");
  put_hex(cfg_read16(CFG_COMMAND));
  puts_serial(" status ");
  put_hex(cfg_read16(CFG_STATUS));
  if (ioapic_pin_ != 0) {
    puts_serial(" IOAPIC pin ");
    put_dec(ioapic_pin_);
    puts_serial(" entry ");
    put_hex(rte_low());
  }
  puts_serial("\n");
}

/* Waits for `counter` (received or with_cause)[vector] to reach `count`; on a timeout says what it
 * waited for. */
static int wait_for(volatile uint32_t* counter, uint32_t vector, uint32_t count, const char* what) {
  if (wait_until(&counter[vector], count)) return 1;
  puts_serial("e1000e: timed out waiting for ");
  puts_serial(what);
  puts_serial(" interrupt ");
  put_dec(count);
  puts_serial(" of ");
  put_dec(ROUNDS);
  puts_serial(" (vector ");
  put_hex(vector);
  puts_serial("): got ");
  put_dec(counter[vector]);
  puts_serial(", ");
  put_dec(received[vector]);
  puts_serial(" interrupts in all\n");
  put_state();
  return 0;
}

/* Step 1. */
static int is_e1000e(uint32_t device) {
  return mmio_read32(cfg(device, CFG_ID)) == (E1000E_DEVICE << 16 | E1000E_VENDOR);
}
static int find_device(void) {
  slot_ = pci_find_device(is_e1000e);
  if (slot_ == PCI_NO_DEVICE) return fail(STEP_FIND, "no 8086:10d3 on bus 0 or below a root port");

  const uint16_t command = cfg_read16(CFG_COMMAND);
  cfg_write16(CFG_COMMAND, command & ~(CMD_MEMORY | CMD_BUS_MASTER)); /* no decoding to size */
  const uint32_t bar0 = cfg_read32(CFG_BAR0);
  cfg_write32(CFG_BAR0, 0xffffffffu);
  const uint32_t probe = cfg_read32(CFG_BAR0);
  cfg_write32(CFG_BAR0, bar0);
  const uint32_t size = ~(probe & ~0xfu) + 1;
  if (bar0 & 1) return fail(STEP_FIND, "BAR 0 is an I/O BAR, not memory");
  if ((bar0 & 6) == 4 && cfg_read32(CFG_BAR0 + 4) != 0) {
    return fail(STEP_FIND, "BAR 0 lies above 4 GiB (the boot page tables map only below)");
  }
  if ((bar0 & ~0xfu) == 0) return fail(STEP_FIND, "BAR 0 has no address (firmware placed none)");
  if (cfg_read32(CFG_BAR0) != bar0) return fail(STEP_FIND, "BAR 0 lost its address after sizing");
  regs_ = bar0 & ~0xfu;

  puts_serial("e1000e: 8086:10d3 at ");
  put_pci_device(slot_);
  puts_serial(", BAR0 ");
  put_hex((uint32_t)regs_);
  puts_serial(" (memory, ");
  put_dec(size >> 10);
  puts_serial(" KiB)\n");
  if (size != E1000E_BAR0_SIZE) return fail(STEP_FIND, "BAR 0 is not 128 KiB");

  cfg_write16(CFG_COMMAND, command | CMD_MEMORY | CMD_BUS_MASTER);
  if ((cfg_read16(CFG_COMMAND) & (CMD_MEMORY | CMD_BUS_MASTER)) != (CMD_MEMORY | CMD_BUS_MASTER)) {
    return fail(STEP_FIND, "memory decoding and bus mastering do not stay on");
  }
  if (reg(REG_STATUS) == 0xffffffffu) return fail(STEP_FIND, "BAR 0 does not answer (STATUS)");
  return 0;
}

/* Step 2. */
static int quiesce(void) {
  set_reg(REG_IMC, 0xffffffffu);
  set_reg(REG_CTRL_EXT, reg(REG_CTRL_EXT) & ~CTRL_EXT_IAME);
  set_reg(REG_IAM, 0);
  const uint32_t was = reg(REG_ICR); /* clears on read: IMS is 0 and MSI-X is off */
  set_reg(REG_ICR, 0xffffffffu);     /* and write 1 to clear, which any mode honours */
  if (reg(REG_IMS) != 0) return fail(STEP_QUIESCE, "IMS still enables causes after IMC");
  if (reg(REG_ICR) != 0) return fail(STEP_QUIESCE, "ICR does not clear");
  puts_serial("e1000e: quiesced: every cause masked, ICR clear (was ");
  put_hex(was);
  puts_serial(")\n");
  return 0;
}

/* Step 3. */
static int intx(void) {
  const uint32_t pin = cfg_read8(CFG_INTERRUPT_PIN);
  const uint32_t line = cfg_read8(CFG_INTERRUPT_LINE);
  if (pin < 1 || pin > 4) {
    puts_serial("e1000e: Interrupt Pin ");
    put_dec(pin);
    puts_serial("\n");
    return fail(STEP_INTX, "Interrupt Pin is not INTA-INTD (1-4): no INTx offered");
  }
  const uint32_t pins = ((ioapic_read(IOAPIC_VERSION) >> 16) & 0xff) + 1;
  if (line < 16 || line >= pins) {
    puts_serial("e1000e: Interrupt Line ");
    put_dec(line);
    puts_serial(", IOAPIC pins 0-");
    put_dec(pins - 1);
    puts_serial("\n");
    return fail(STEP_INTX, "Interrupt Line is not an IOAPIC pin from 16 up");
  }
  ioapic_pin_ = line;
  route_pin(VECTOR_INTX | RTE_LEVEL); /* fixed, physical, active high, unmasked */
  cfg_write16(CFG_COMMAND, cfg_read16(CFG_COMMAND) & ~CMD_INTX_DISABLE);
  if (cfg_read16(CFG_COMMAND) & CMD_INTX_DISABLE) return fail(STEP_INTX, "INTx Disable stays set");
  delay_cycles(1ull << 28);
  /* One delivery here is tolerated: an assertion from before the quiesce that the pin still held
   * while masked. More means the line stays up with every cause masked. */
  const uint32_t stale = received[VECTOR_INTX];
  if (stale > 1) return fail(STEP_INTX, "INTx interrupts keep arriving with every cause masked");
  if (stale == 1) {
    puts_serial("e1000e: note: one INTx delivery on unmasking the pin, ICR ");
    put_hex(last_icr[VECTOR_INTX]);
    puts_serial(" (an assertion from before the quiesce)\n");
    received[VECTOR_INTX] = 0;
    with_cause[VECTOR_INTX] = 0;
    without_cause[VECTOR_INTX] = 0;
  }

  set_reg(REG_IMS, CAUSE);
  if (!(reg(REG_IMS) & CAUSE)) return fail(STEP_INTX, "IMS does not take the cause");
  for (uint32_t i = 1; i <= ROUNDS; ++i) {
    set_reg(REG_ICS, CAUSE);
    if (!wait_for(received, VECTOR_INTX, i, "INTx")) {
      return fail(STEP_INTX, "INTx: an interrupt did not arrive");
    }
  }
  delay_cycles(1ull << 28); /* time for an extra (spurious) delivery */
  const uint32_t taken = received[VECTOR_INTX];
  if (taken != ROUNDS || without_cause[VECTOR_INTX] != 0) {
    puts_serial("e1000e: INTx: ");
    put_dec(taken);
    puts_serial(" interrupts for 3 causes, ");
    put_dec(without_cause[VECTOR_INTX]);
    puts_serial(" of them with the cause clear in ICR (last ICR ");
    put_hex(last_icr[VECTOR_INTX]);
    puts_serial(")\n");
    return fail(STEP_INTX, "INTx: more interrupts than causes raised");
  }
  if (rte_low() & RTE_REMOTE_IRR) {
    put_state();
    return fail(STEP_INTX, "INTx: the pin stays in Remote IRR after the handler's EOI");
  }

  set_reg(REG_IMC, CAUSE);
  set_reg(REG_ICS, CAUSE); /* sets ICR, but masked: no interrupt */
  delay_cycles(1ull << 28);
  const uint32_t masked_icr = reg(REG_ICR); /* clears it (IMS is 0) */
  if (received[VECTOR_INTX] != ROUNDS) {
    return fail(STEP_INTX, "INTx: an interrupt arrived while the cause was masked");
  }
  if (!(masked_icr & CAUSE)) return fail(STEP_INTX, "ICS did not set the masked cause in ICR");

  puts_serial("e1000e: INTx on IOAPIC pin ");
  put_dec(ioapic_pin_);
  puts_serial(": 3 of 3 interrupts\n");
  return 0;
}

static uint32_t find_capability(uint8_t id) {
  if (!(cfg_read16(CFG_STATUS) & STATUS_CAPABILITIES)) return 0;
  uint32_t at = cfg_read8(CFG_CAPABILITIES) & 0xfc;
  for (int hops = 0; at >= 0x40 && hops < 48; ++hops) {
    if (cfg_read8(at) == id) return at;
    at = cfg_read8(at + 1) & 0xfc;
  }
  return 0;
}

/* Step 4. */
static int msi(void) {
  cfg_write16(CFG_COMMAND, cfg_read16(CFG_COMMAND) | CMD_INTX_DISABLE);
  route_pin(VECTOR_INTX | RTE_LEVEL | RTE_MASKED);
  const uint32_t at = find_capability(CAP_MSI);
  if (at == 0) return fail(STEP_MSI, "no MSI capability (id 0x05) in the list");
  const uint16_t control = cfg_read16(at + MSI_CONTROL);
  if (control & MSI_MMC_MASK) return fail(STEP_MSI, "MSI offers more than one vector");
  const uint32_t data_at = at + ((control & MSI_64BIT) ? 12 : 8);
  cfg_write32(at + MSI_ADDRESS, 0xfee00000u | lapic_id() << 12); /* fixed, physical */
  if (control & MSI_64BIT) cfg_write32(at + MSI_ADDRESS + 4, 0);
  cfg_write16(data_at, VECTOR_MSI); /* edge */
  if (control & MSI_PER_VECTOR_MASK) cfg_write32(data_at + 4, 0);
  cfg_write16(at + MSI_CONTROL, (uint16_t)((control & ~MSI_MME_MASK) | MSI_ENABLE));
  if (!(cfg_read16(at + MSI_CONTROL) & MSI_ENABLE)) return fail(STEP_MSI, "MSI Enable stays clear");
  if (cfg_read16(data_at) != VECTOR_MSI) return fail(STEP_MSI, "MSI data does not hold");

  set_reg(REG_IMS, CAUSE);
  for (uint32_t i = 1; i <= ROUNDS; ++i) {
    set_reg(REG_ICS, CAUSE);
    /* The count of causes taken, not of interrupts: a re-send (above) must not start the next
     * round before this one's cause is read. */
    if (!wait_for(with_cause, VECTOR_MSI, i, "MSI")) {
      return fail(STEP_MSI, "MSI: an interrupt did not arrive");
    }
  }
  delay_cycles(1ull << 28);
  set_reg(REG_IMC, 0xffffffffu);
  (void)reg(REG_ICR);
  if (with_cause[VECTOR_MSI] != ROUNDS) {
    puts_serial("e1000e: MSI: ");
    put_dec(with_cause[VECTOR_MSI]);
    puts_serial(" interrupts found the cause set, for 3 causes raised\n");
    return fail(STEP_MSI, "MSI: a cause was taken more than once");
  }
  if (received[VECTOR_INTX] != ROUNDS) return fail(STEP_MSI, "an INTx interrupt arrived under MSI");
  puts_serial("e1000e: MSI: 3 of 3 interrupts");
  if (without_cause[VECTOR_MSI] != 0) {
    puts_serial(" (and ");
    put_dec(without_cause[VECTOR_MSI]);
    puts_serial(" re-sent by the device for a cause not yet read)");
  }
  puts_serial("\n");
  return 0;
}

int guest_main(uint32_t index, uint32_t count) {
  (void)count;
  if (index != 0) {
    for (;;) __asm__ volatile("cli; hlt");
  }
  set_gate(VECTOR_INTX, stub_0x50);
  set_gate(VECTOR_MSI, stub_0x51);
  load_idt();
  int result = find_device();
  if (!result) result = quiesce();
  if (!result) {
    enable_lapic_and_interrupts();
    result = intx();
  }
  if (!result) result = msi();
  if (result) return result;
  puts_serial("e1000e: ok\n");
  return 0;
}

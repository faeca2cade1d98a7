/* nvme-check: a small NVMe driver of its own, for a real NVMe controller assigned to the VM
 * (VFIO). It finds the first NVMe function (class 01:08:02) on bus 0 or below a root port through
 * ECAM, turns on memory decoding and bus mastering (INTx off), resets and enables the controller
 * with an admin queue pair in guest RAM, identifies the controller and namespace 1, sets up MSI-X
 * (entry 0: admin, entry 1: I/O, both to vCPU 0), creates one I/O queue pair whose completions
 * interrupt through entry 1, reads the nonce the host left in LBA 0, writes a pattern derived from
 * it to LBAs 1-8, flushes, reads them back and compares (guests/include/ferry/guests/nvmecheck.h
 * has the pattern and the exit statuses). Every I/O completion must come with its MSI-X interrupt.
 *
 * Guest RAM is the DMA address space: ferry maps it into the IOMMU with IOVA == guest physical
 * address, and RAM is identity mapped, so a buffer's address is what the controller is given.
 * Every wait is bounded by the TSC (TIMEOUT_CYCLES, or CAP.TO for the controller's ready bit) and
 * names what it waited for when it gives up. Needs about 2 MiB of RAM above 1 MiB (64M is plenty).
 */
#include "ferry/guests/nvmecheck.h"
#include "ferry/guests/pcitest.h"
#include "rt/interrupts64.h"
#include "rt/pci_find.h"
#include "rt/uncached_map.h"

/* ---- Console --------------------------------------------------------------------------------- */

static void put_hex_digits(uint64_t v, int digits) {
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
    putc_serial("0123456789abcdef"[(v >> shift) & 0xf]);
  }
}
static void put_hex64(uint64_t v) {
  int digits = 1;
  while (digits < 16 && (v >> (digits * 4))) ++digits;
  puts_serial("0x");
  put_hex_digits(v, digits);
}
static void put_dec64(uint64_t v) {
  char buf[21];
  int i = 0;
  do {
    buf[i++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (i) putc_serial(buf[--i]);
}
static void say(const char* s) {
  puts_serial("nvme: ");
  puts_serial(s);
}
static void end_line(void) { puts_serial("\n"); }

/* A failure: "nvme: FAIL: " and the reason (the caller prints more, then calls die()). */
static void fail_begin(const char* reason) {
  puts_serial("nvme: FAIL: ");
  puts_serial(reason);
}
static __attribute__((noreturn)) void die(int status) {
  end_line();
  guest_exit((uint8_t)status);
}
static __attribute__((noreturn)) void fail(int status, const char* reason) {
  fail_begin(reason);
  die(status);
}

/* ---- Interrupts ------------------------------------------------------------------------------ */

#define TIMER_VECTOR 0x30
#define ADMIN_VECTOR 0x40 /* MSI-X entry 0: the admin completion queue (always IV 0) */
#define IO_VECTOR 0x41    /* MSI-X entry 1: I/O completion queue 1 */
#define SPURIOUS_VECTOR 0xff
#define ADMIN_MSIX_ENTRY 0
#define IO_MSIX_ENTRY 1

static volatile uint32_t admin_interrupts, io_interrupts, timer_ticks, other_interrupts;

static uint64_t read_cr2(void) {
  uint64_t v;
  __asm__ volatile("mov %%cr2, %0" : "=r"(v));
  return v;
}

void on_interrupt(uint64_t vector) {
  if (vector < 32) { /* a CPU exception: never returns (the stubs do not pop error codes) */
    puts_serial("\nnvme: FAIL: CPU exception ");
    put_dec((uint32_t)vector);
    puts_serial(", CR2 ");
    put_hex64(read_cr2());
    die(FERRY_NVMECHECK_EXIT_EXCEPTION);
  }
  if (vector == SPURIOUS_VECTOR) { /* a spurious interrupt takes no EOI */
    other_interrupts++;
    return;
  }
  if (vector == IO_VECTOR) {
    io_interrupts++;
  } else if (vector == ADMIN_VECTOR) {
    admin_interrupts++;
  } else if (vector == TIMER_VECTOR) {
    timer_ticks++;
  } else {
    other_interrupts++;
  }
  lapic_eoi();
}

/* clang-format off */
INTERRUPT_STUB(0x00) INTERRUPT_STUB(0x01) INTERRUPT_STUB(0x02) INTERRUPT_STUB(0x03)
INTERRUPT_STUB(0x04) INTERRUPT_STUB(0x05) INTERRUPT_STUB(0x06) INTERRUPT_STUB(0x07)
INTERRUPT_STUB(0x08) INTERRUPT_STUB(0x09) INTERRUPT_STUB(0x0a) INTERRUPT_STUB(0x0b)
INTERRUPT_STUB(0x0c) INTERRUPT_STUB(0x0d) INTERRUPT_STUB(0x0e) INTERRUPT_STUB(0x0f)
INTERRUPT_STUB(0x10) INTERRUPT_STUB(0x11) INTERRUPT_STUB(0x12) INTERRUPT_STUB(0x13)
INTERRUPT_STUB(0x14) INTERRUPT_STUB(0x15) INTERRUPT_STUB(0x16) INTERRUPT_STUB(0x17)
INTERRUPT_STUB(0x18) INTERRUPT_STUB(0x19) INTERRUPT_STUB(0x1a) INTERRUPT_STUB(0x1b)
INTERRUPT_STUB(0x1c) INTERRUPT_STUB(0x1d) INTERRUPT_STUB(0x1e) INTERRUPT_STUB(0x1f)
INTERRUPT_STUB(0x30) INTERRUPT_STUB(0x40) INTERRUPT_STUB(0x41) INTERRUPT_STUB(0xff)
void on_interrupt(uint64_t vector); /* ends the stubs for clang-format, which sees no ';' in them */
/* clang-format on */

static void install_idt(void) {
  static void (*const exceptions[32])(void) = {
      stub_0x00, stub_0x01, stub_0x02, stub_0x03, stub_0x04, stub_0x05, stub_0x06, stub_0x07,
      stub_0x08, stub_0x09, stub_0x0a, stub_0x0b, stub_0x0c, stub_0x0d, stub_0x0e, stub_0x0f,
      stub_0x10, stub_0x11, stub_0x12, stub_0x13, stub_0x14, stub_0x15, stub_0x16, stub_0x17,
      stub_0x18, stub_0x19, stub_0x1a, stub_0x1b, stub_0x1c, stub_0x1d, stub_0x1e, stub_0x1f};
  for (int i = 0; i < 32; ++i) set_gate((uint8_t)i, exceptions[i]);
  set_gate(TIMER_VECTOR, stub_0x30);
  set_gate(ADMIN_VECTOR, stub_0x40);
  set_gate(IO_VECTOR, stub_0x41);
  set_gate(SPURIOUS_VECTOR, stub_0xff);
  load_idt();
}

/* The local APIC timer, periodic, only to bound `hlt`: a wait for an interrupt wakes at least
 * every tick to look at the TSC. KVM's APIC bus runs at 1 GHz, so divide-by-16 and this count make
 * a tick about 10 ms (the exact period does not matter). */
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_DIVIDE 0x3e0
#define LAPIC_TIMER_PERIODIC (1u << 17)
#define TIMER_COUNT 625000u
static int timer_works;

static void start_timer(void) {
  mmio_write32(LAPIC_BASE + LAPIC_TIMER_DIVIDE, 0x3); /* divide by 16 */
  mmio_write32(LAPIC_BASE + LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | TIMER_VECTOR);
  mmio_write32(LAPIC_BASE + LAPIC_TIMER_INITIAL, TIMER_COUNT);
  timer_works = wait_until(&timer_ticks, 2);
  if (timer_works) {
    say("LAPIC timer ticks: waits for an interrupt halt (sti; hlt), woken by the timer\n");
  } else {
    mmio_write32(LAPIC_BASE + LAPIC_TIMER_INITIAL, 0);
    say("LAPIC timer never fired: waits for an interrupt spin (pause) with interrupts on\n");
  }
}

/* One step of a wait for an interrupt, entered with interrupts off (cli) after the caller saw
 * that what it waits for has not happened yet: `sti; hlt` takes no interrupt between the two (the
 * sti shadow), so none is missed. Returns with interrupts on. */
static void idle(void) {
  if (timer_works) {
    __asm__ volatile("sti; hlt" ::: "memory");
  } else {
    __asm__ volatile("sti; pause" ::: "memory");
  }
}

/* ---- PCI ------------------------------------------------------------------------------------- */

#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_CAPABILITIES 0x34
#define CMD_MEMORY 0x2
#define CMD_BUS_MASTER 0x4
#define CMD_INTX_DISABLE 0x400
#define CAP_MSIX 0x11
#define MSIX_ENABLE 0x8000
#define MSIX_FUNCTION_MASK 0x4000
#define NVME_CLASS 0x010802u /* mass storage, non-volatile memory, NVM Express */

static uint32_t slot_; /* the controller's device address (rt/pci_find.h) */

static uintptr_t ecam(uint32_t reg) { return FERRY_PCI_ECAM_BASE + (slot_ << 15 | reg); }
static uint32_t cfg_read32(uint32_t reg) { return mmio_read32(ecam(reg)); }
static uint16_t cfg_read16(uint32_t reg) { return mmio_read16(ecam(reg)); }
static uint8_t cfg_read8(uint32_t reg) { return mmio_read8(ecam(reg)); }
static void cfg_write16(uint32_t reg, uint16_t v) { mmio_write16(ecam(reg), v); }

/* BAR `index` of the function: its memory address, or 0 if it is not a memory BAR. Firmware
 * (ferry) assigned it; this guest keeps that address. */
static uint64_t memory_bar(uint32_t index, int* is_64) {
  if (index > 5) return 0;
  uint32_t low = cfg_read32(0x10 + index * 4);
  if (low & 1) return 0; /* I/O */
  *is_64 = ((low >> 1) & 3) == 2;
  uint64_t address = low & ~0xfull;
  if (*is_64) {
    if (index == 5) return 0;
    address |= (uint64_t)cfg_read32(0x14 + index * 4) << 32;
  }
  return address;
}

/* ---- Page tables ----------------------------------------------------------------------------- */

/* Maps a register range uncached (rt/uncached_map.h), or fails naming why and where. */
static void map_registers(uint64_t address, uint64_t length) {
  const char* why = map_uncached(address, length);
  if (why == 0) return;
  fail_begin(why);
  puts_serial(": ");
  put_hex64(address);
  die(FERRY_NVMECHECK_EXIT_NO_CONTROLLER);
}

/* ---- NVMe registers (NVMe 1.4, section 3.1) -------------------------------------------------- */

#define NVME_CAP 0x00  /* 64 */
#define NVME_VS 0x08   /* 32 */
#define NVME_CC 0x14   /* 32 */
#define NVME_CSTS 0x1c /* 32 */
#define NVME_AQA 0x24  /* 32 */
#define NVME_ASQ 0x28  /* 64 */
#define NVME_ACQ 0x30  /* 64 */
#define NVME_DOORBELLS 0x1000

#define CAP_MQES(cap) ((uint32_t)((cap)&0xffff))       /* 0's based */
#define CAP_TO(cap) ((uint32_t)(((cap) >> 24) & 0xff)) /* 500 ms units */
#define CAP_DSTRD(cap) ((uint32_t)(((cap) >> 32) & 0xf))
#define CAP_CSS_NVM(cap) (((cap) >> 37) & 1)
#define CAP_MPSMIN(cap) ((uint32_t)(((cap) >> 48) & 0xf))
#define CAP_MPSMAX(cap) ((uint32_t)(((cap) >> 52) & 0xf))

#define CC_EN 0x1u
#define CC_CSS_NVM (0u << 4)
#define CC_MPS_4K (0u << 7)
#define CC_AMS_RR (0u << 11)
#define CC_IOSQES (6u << 16) /* 64-byte submission queue entries */
#define CC_IOCQES (4u << 20) /* 16-byte completion queue entries */
#define CSTS_RDY 0x1u
#define CSTS_CFS 0x2u

#define PAGE 4096u

/* How long a command may take: 2^35 TSC cycles, about 10 s at 3 GHz. Generous, because in the lab
 * the controller is emulated by a QEMU that itself runs under software emulation. */
#define COMMAND_TIMEOUT_CYCLES (TIMEOUT_CYCLES << 2)
#define COMMAND_TIMEOUT_TEXT "2^35 TSC cycles"

static uint64_t regs_;   /* BAR 0 */
static uint32_t stride_; /* doorbell stride in bytes: 4 << CAP.DSTRD */
static uint64_t cap_;

/* Every register and doorbell access, so the test can compare it with the VMM's MMIO exits: a
 * BAR given to the guest as memory costs none. */
static uint64_t register_accesses_;
static uint32_t reg32(uint32_t offset) {
  ++register_accesses_;
  return mmio_read32(regs_ + offset);
}
static void write_reg32(uint32_t offset, uint32_t v) {
  ++register_accesses_;
  mmio_write32(regs_ + offset, v);
}
/* 64-bit registers as two dword accesses, low first (what every driver does: not every path to
 * a device takes qword MMIO). */
static uint64_t reg64(uint32_t offset) {
  uint64_t low = reg32(offset);
  return low | (uint64_t)reg32(offset + 4) << 32;
}
static void write_reg64(uint32_t offset, uint64_t v) {
  write_reg32(offset, (uint32_t)v);
  write_reg32(offset + 4, (uint32_t)(v >> 32));
}

static void put_csts(void) {
  puts_serial(" (CSTS ");
  put_hex(reg32(NVME_CSTS));
  puts_serial(", CC ");
  put_hex(reg32(NVME_CC));
  puts_serial(")");
}

/* Waits until CSTS.RDY == ready, at most CAP.TO (500 ms units) measured generously: the TSC rate
 * is not known, so 500 ms is taken as 2^31 cycles (enough at TSC rates up to 4.3 GHz) and the
 * wait is never shorter than TIMEOUT_CYCLES. A fatal status (CFS) ends a wait for RDY=1 at once. */
static void wait_ready(uint32_t ready, int status) {
  uint64_t limit = (uint64_t)(CAP_TO(cap_) ? CAP_TO(cap_) : 1) << 31;
  if (limit < TIMEOUT_CYCLES) limit = TIMEOUT_CYCLES;
  const uint64_t start = rdtsc();
  for (;;) {
    uint32_t csts = reg32(NVME_CSTS);
    if (csts == 0xffffffffu) {
      fail(status, "CSTS reads all ones: the controller's BAR does not answer");
    }
    if ((csts & CSTS_RDY) == ready) return;
    if (ready && (csts & CSTS_CFS)) { /* a reset (RDY=0) may clear it: wait for that one */
      fail_begin("controller fatal status (CSTS.CFS) while waiting for CSTS.RDY=1");
      put_csts();
      die(status);
    }
    if (rdtsc() - start > limit) {
      fail_begin(ready ? "timed out waiting for CSTS.RDY=1 after enabling (CC.EN=1)"
                       : "timed out waiting for CSTS.RDY=0 after a reset (CC.EN=0)");
      puts_serial(", CAP.TO ");
      put_dec(CAP_TO(cap_) * 500);
      puts_serial(" ms, waited ");
      put_hex64(limit);
      puts_serial(" TSC cycles");
      put_csts();
      die(status);
    }
    cpu_relax();
  }
}

/* ---- Queues (NVMe 1.4, section 4) ------------------------------------------------------------ */

#define QUEUE_ENTRIES 16u
#define SQE_DWORDS 16u
#define CQE_DWORDS 4u

struct queue {
  const char* name;
  uint16_t qid;
  uint16_t entries;
  volatile uint32_t* sq; /* entries * 64 bytes */
  volatile uint32_t* cq; /* entries * 16 bytes */
  uint16_t sq_tail;
  uint16_t cq_head;
  uint32_t phase; /* the phase bit a new completion carries */
  uint16_t next_cid;
};

static uint32_t admin_sq_mem[PAGE / 4] __attribute__((aligned(PAGE)));
static uint32_t admin_cq_mem[PAGE / 4] __attribute__((aligned(PAGE)));
static uint32_t io_sq_mem[PAGE / 4] __attribute__((aligned(PAGE)));
static uint32_t io_cq_mem[PAGE / 4] __attribute__((aligned(PAGE)));
static uint8_t identify_buffer[PAGE] __attribute__((aligned(PAGE)));
/* Eight blocks of up to 4 KiB each way, and a PRP list page for each. */
#define MAX_BLOCK_SIZE 4096u
#define DATA_BYTES (FERRY_NVMECHECK_BLOCKS * MAX_BLOCK_SIZE)
static uint64_t out_buffer[DATA_BYTES / 8] __attribute__((aligned(PAGE)));
static uint64_t in_buffer[DATA_BYTES / 8] __attribute__((aligned(PAGE)));
static uint64_t out_prp_list[PAGE / 8] __attribute__((aligned(PAGE)));
static uint64_t in_prp_list[PAGE / 8] __attribute__((aligned(PAGE)));

static struct queue admin_ = {"admin", 0, QUEUE_ENTRIES, admin_sq_mem, admin_cq_mem, 0, 0, 1, 1};
static struct queue io_ = {"I/O", 1, QUEUE_ENTRIES, io_sq_mem, io_cq_mem, 0, 0, 1, 1};

static void barrier(void) { __asm__ volatile("" ::: "memory"); }

static void clear_queue(struct queue* q) {
  for (uint32_t i = 0; i < PAGE / 4; ++i) {
    q->sq[i] = 0;
    q->cq[i] = 0;
  }
  q->sq_tail = 0;
  q->cq_head = 0;
  q->phase = 1;
  q->next_cid = 1;
}

static uint32_t sq_doorbell(const struct queue* q) {
  return NVME_DOORBELLS + 2u * q->qid * stride_;
}
static uint32_t cq_doorbell(const struct queue* q) {
  return NVME_DOORBELLS + (2u * q->qid + 1) * stride_;
}

/* Copies the command into the next submission slot with a fresh command identifier and rings
 * the tail doorbell. Returns the identifier. */
static uint16_t submit(struct queue* q, uint32_t command[SQE_DWORDS]) {
  const uint16_t cid = q->next_cid++;
  if (q->next_cid == 0xffff) q->next_cid = 1;
  command[0] = (command[0] & 0xffffu) | (uint32_t)cid << 16;
  volatile uint32_t* slot = q->sq + q->sq_tail * SQE_DWORDS;
  for (uint32_t i = 0; i < SQE_DWORDS; ++i) slot[i] = command[i];
  q->sq_tail = (uint16_t)((q->sq_tail + 1) % q->entries);
  barrier(); /* the entry is in memory before the doorbell (x86 keeps stores in order) */
  write_reg32(sq_doorbell(q), q->sq_tail);
  return cid;
}

/* Dword 3 of the completion at the head: CID 15:0, phase 16, status 31:17. */
static uint32_t head_dw3(const struct queue* q) { return q->cq[q->cq_head * CQE_DWORDS + 3]; }
static int completion_ready(const struct queue* q) { return ((head_dw3(q) >> 16) & 1) == q->phase; }

/* Takes the completion at the head (which must be ready), moves the head and rings its doorbell. */
static void consume(struct queue* q, uint32_t entry[CQE_DWORDS]) {
  barrier();
  for (uint32_t i = 0; i < CQE_DWORDS; ++i) entry[i] = q->cq[q->cq_head * CQE_DWORDS + i];
  q->cq_head = (uint16_t)(q->cq_head + 1);
  if (q->cq_head == q->entries) {
    q->cq_head = 0;
    q->phase ^= 1;
  }
  write_reg32(cq_doorbell(q), q->cq_head);
}

static void put_what(const struct queue* q, const char* what, uint16_t cid) {
  puts_serial(what);
  puts_serial(" (");
  puts_serial(q->name);
  puts_serial(" queue, command id ");
  put_dec(cid);
  puts_serial(")");
}

static void put_phase(const struct queue* q) {
  puts_serial(" (phase bit ");
  put_dec((head_dw3(q) >> 16) & 1);
  puts_serial(", a new entry has ");
  put_dec(q->phase);
  puts_serial(", head ");
  put_dec(q->cq_head);
  puts_serial(")");
}

/* Checks a completion: the identifier submitted, the right queue, status 0. */
static void check_completion(const struct queue* q, const uint32_t entry[CQE_DWORDS],
                             const char* what, uint16_t cid, int status) {
  const uint32_t code = entry[3] >> 17; /* SC 7:0, SCT 10:8, CRD, M, DNR */
  if ((entry[3] & 0xffff) != cid || (entry[2] >> 16) != q->qid) {
    fail_begin("completion for another command: expected ");
    put_what(q, what, cid);
    puts_serial(", got command id ");
    put_dec(entry[3] & 0xffff);
    puts_serial(" of queue ");
    put_dec(entry[2] >> 16);
    die(status);
  }
  if ((code & 0x7ff) != 0) {
    fail_begin("");
    put_what(q, what, cid);
    puts_serial(" failed: status code type ");
    put_dec((code >> 8) & 7);
    puts_serial(", status code ");
    put_hex(code & 0xff);
    puts_serial(code >> 14 ? " (do not retry)" : "");
    die(status);
  }
}

/* The PBA dword holding MSI-X entry 1's pending bit (0 until MSI-X is set up). */
static uint64_t io_pba_dword_;

/* For a lost interrupt: the PBA bit of the I/O entry and what the vCPU has taken. */
static void put_interrupt_state(void) {
  puts_serial("; PBA bit ");
  put_dec(IO_MSIX_ENTRY);
  puts_serial(" is ");
  put_dec(io_pba_dword_ ? (mmio_read32(io_pba_dword_) >> (IO_MSIX_ENTRY % 32)) & 1 : 0);
  puts_serial(", interrupts taken: I/O ");
  put_dec(io_interrupts);
  puts_serial(", admin ");
  put_dec(admin_interrupts);
  puts_serial(", timer ");
  put_dec(timer_ticks);
  puts_serial(", other ");
  put_dec(other_interrupts);
}

/* An admin command, polled: its completion is waited for in the completion queue (the admin
 * queue's MSI-X interrupts, once enabled, are only counted). Returns completion dword 0. An error
 * status fails the step, unless `error` is given: then it gets the status field (0: success). */
static uint32_t admin_command_or_error(uint32_t command[SQE_DWORDS], const char* what, int status,
                                       uint32_t* error) {
  const uint16_t cid = submit(&admin_, command);
  const uint64_t start = rdtsc();
  while (!completion_ready(&admin_)) {
    const int fatal = (reg32(NVME_CSTS) & CSTS_CFS) != 0;
    if (fatal || rdtsc() - start > COMMAND_TIMEOUT_CYCLES) {
      fail_begin(fatal ? "controller fatal status (CSTS.CFS) and no completion for "
                       : "no completion for ");
      put_what(&admin_, what, cid);
      puts_serial(" within " COMMAND_TIMEOUT_TEXT);
      put_phase(&admin_);
      put_csts();
      die(status);
    }
    cpu_relax();
  }
  uint32_t entry[CQE_DWORDS];
  consume(&admin_, entry);
  if (error) {
    *error = (entry[3] >> 17) & 0x7ff;
    if (*error) return 0;
  }
  check_completion(&admin_, entry, what, cid, status);
  return entry[0];
}
static uint32_t admin_command(uint32_t command[SQE_DWORDS], const char* what, int status) {
  return admin_command_or_error(command, what, status, 0);
}

static uint32_t io_completions, io_completions_by_interrupt, io_completions_without_interrupt;

/* An I/O command: after submitting it, halts with interrupts on until the I/O vector's counter
 * has advanced AND the completion is in the queue, then takes the completion. A completion that
 * is there without an interrupt after the whole timeout is a lost interrupt: a failure. */
static void io_command(uint32_t command[SQE_DWORDS], const char* what) {
  const uint32_t interrupts_before = io_interrupts;
  const uint16_t cid = submit(&io_, command);
  const uint64_t start = rdtsc();
  int ready, interrupted, fatal;
  for (;;) {
    __asm__ volatile("cli" ::: "memory");
    interrupted = io_interrupts != interrupts_before;
    ready = completion_ready(&io_);
    fatal = !ready && (reg32(NVME_CSTS) & CSTS_CFS); /* it will not complete: stop waiting */
    if ((interrupted && ready) || fatal || rdtsc() - start > COMMAND_TIMEOUT_CYCLES) break;
    idle();
  }
  __asm__ volatile("sti" ::: "memory");
  if (!interrupted) {
    if (ready) io_completions_without_interrupt++;
    fail_begin("no MSI-X interrupt (vector ");
    put_hex64(IO_VECTOR);
    puts_serial(", entry ");
    put_dec(IO_MSIX_ENTRY);
    puts_serial(") for ");
    put_what(&io_, what, cid);
    puts_serial(fatal ? " before the controller reported a fatal status (CSTS.CFS)"
                      : " within " COMMAND_TIMEOUT_TEXT);
    puts_serial("; the completion is ");
    puts_serial(ready ? "there" : "not there");
    put_phase(&io_);
    put_interrupt_state();
    put_csts();
    die(ready ? FERRY_NVMECHECK_EXIT_NO_INTERRUPT : FERRY_NVMECHECK_EXIT_IO);
  }
  if (!ready) {
    fail_begin("an MSI-X interrupt came but no completion for ");
    put_what(&io_, what, cid);
    puts_serial(fatal ? " before the controller reported a fatal status (CSTS.CFS)"
                      : " within " COMMAND_TIMEOUT_TEXT);
    put_phase(&io_);
    put_interrupt_state();
    put_csts();
    die(FERRY_NVMECHECK_EXIT_IO);
  }
  io_completions++;
  io_completions_by_interrupt++;
  uint32_t entry[CQE_DWORDS];
  consume(&io_, entry);
  check_completion(&io_, entry, what, cid, FERRY_NVMECHECK_EXIT_IO);
}

static void clear_command(uint32_t command[SQE_DWORDS]) {
  for (uint32_t i = 0; i < SQE_DWORDS; ++i) command[i] = 0;
}
static void set_prp1(uint32_t command[SQE_DWORDS], const void* buffer) {
  command[6] = (uint32_t)(uintptr_t)buffer;
  command[7] = (uint32_t)((uint64_t)(uintptr_t)buffer >> 32);
}
/* PRP entries for a page-aligned buffer of `bytes` (PRP1, then PRP2: the second page, or a PRP
 * list of the pages after the first). */
static void set_prps(uint32_t command[SQE_DWORDS], const void* buffer, uint32_t bytes,
                     uint64_t* list) {
  const uint64_t at = (uint64_t)(uintptr_t)buffer;
  const uint32_t pages = (bytes + PAGE - 1) / PAGE;
  set_prp1(command, buffer);
  uint64_t prp2 = 0;
  if (pages == 2) {
    prp2 = at + PAGE;
  } else if (pages > 2) {
    for (uint32_t i = 1; i < pages; ++i) list[i - 1] = at + (uint64_t)i * PAGE;
    prp2 = (uint64_t)(uintptr_t)list;
  }
  command[8] = (uint32_t)prp2;
  command[9] = (uint32_t)(prp2 >> 32);
}

/* Admin opcodes (NVMe 1.4, figure 139) and NVM opcodes (NVM command set, figure 346). */
#define ADMIN_CREATE_SQ 0x01
#define ADMIN_CREATE_CQ 0x05
#define ADMIN_IDENTIFY 0x06
#define ADMIN_SET_FEATURES 0x09
#define FEATURE_NUMBER_OF_QUEUES 0x07
#define NVM_FLUSH 0x00
#define NVM_WRITE 0x01
#define NVM_READ 0x02

/* ---- The steps ------------------------------------------------------------------------------- */

/* Step 1: the first function of class 01:08:02, on bus 0 or below a root port. */
static int is_nvme(uint32_t device) {
  return mmio_read32(pci_device_reg(device, 0x08)) >> 8 == NVME_CLASS;
}
static void find_controller(void) {
  slot_ = pci_find_device(is_nvme);
  if (slot_ == PCI_NO_DEVICE) {
    fail(FERRY_NVMECHECK_EXIT_NO_CONTROLLER,
         "no NVMe controller (class 01:08:02) on bus 0 or below a root port; was the device "
         "assigned?");
  }
  const uint32_t id = cfg_read32(0x00);
  int is_64 = 0;
  regs_ = memory_bar(0, &is_64);
  say("found controller ");
  put_hex_digits(id & 0xffff, 4);
  puts_serial(":");
  put_hex_digits(id >> 16, 4);
  puts_serial(" at ");
  put_pci_device(slot_);
  puts_serial(", BAR0 ");
  put_hex64(regs_);
  puts_serial(is_64 ? " (64-bit)" : " (32-bit)");
  end_line();
  if (regs_ == 0) {
    fail(FERRY_NVMECHECK_EXIT_NO_CONTROLLER,
         "BAR0 is not an assigned memory BAR (it reads zero or is an I/O BAR)");
  }
  /* The registers and the doorbells of the two queue pairs fit in 8 KiB at any stride up to
   * 256 bytes; the stride is checked against CAP once BAR 0 is readable. */
  map_registers(regs_, 2 * PAGE);
}

/* Step 2: memory decoding and bus mastering on, INTx off. */
static void enable_function(void) {
  const uint16_t want = CMD_MEMORY | CMD_BUS_MASTER | CMD_INTX_DISABLE;
  cfg_write16(PCI_COMMAND, (uint16_t)(cfg_read16(PCI_COMMAND) | want));
  const uint16_t command = cfg_read16(PCI_COMMAND);
  say("command register ");
  put_hex64(command);
  puts_serial(command & CMD_INTX_DISABLE
                  ? ": memory decoding, bus mastering, INTx disabled\n"
                  : ": memory decoding, bus mastering; warning: INTx disable did not stick\n");
  if ((command & (CMD_MEMORY | CMD_BUS_MASTER)) != (CMD_MEMORY | CMD_BUS_MASTER)) {
    fail(FERRY_NVMECHECK_EXIT_COMMAND,
         "the command register did not keep memory decoding and bus mastering on");
  }
}

/* Step 3: reset, admin queues, enable. */
static void start_controller(void) {
  const int status = FERRY_NVMECHECK_EXIT_CONTROLLER;
  cap_ = reg64(NVME_CAP);
  const uint32_t vs = reg32(NVME_VS);
  say("CAP ");
  put_hex64(cap_);
  puts_serial(" (MQES ");
  put_dec(CAP_MQES(cap_) + 1);
  puts_serial(", DSTRD ");
  put_dec(CAP_DSTRD(cap_));
  puts_serial(", TO ");
  put_dec(CAP_TO(cap_) * 500);
  puts_serial(" ms, MPSMIN ");
  put_dec(PAGE << CAP_MPSMIN(cap_));
  puts_serial("), VS ");
  put_dec(vs >> 16);
  puts_serial(".");
  put_dec((vs >> 8) & 0xff);
  puts_serial(".");
  put_dec(vs & 0xff);
  end_line();
  if (cap_ == ~0ull) fail(status, "CAP reads all ones: BAR 0 does not answer");
  if (!CAP_CSS_NVM(cap_)) fail(status, "CAP.CSS: the NVM command set is not supported");
  if (CAP_MPSMIN(cap_) != 0) fail(status, "CAP.MPSMIN: 4 KiB memory pages are not supported");
  if (CAP_DSTRD(cap_) > 6) fail(status, "CAP.DSTRD: doorbell stride above 256 bytes");
  stride_ = 4u << CAP_DSTRD(cap_);
  if (CAP_MQES(cap_) + 1 < QUEUE_ENTRIES) {
    admin_.entries = io_.entries = (uint16_t)(CAP_MQES(cap_) + 1);
  }

  /* Reset. Clearing CC.EN while CSTS.RDY is still 0 after an enable is undefined (3.1.6): let a
   * pending enable finish first. */
  const uint32_t cc = reg32(NVME_CC);
  const int was_enabled = cc & CC_EN;
  if (was_enabled) {
    if (!(reg32(NVME_CSTS) & (CSTS_RDY | CSTS_CFS))) wait_ready(CSTS_RDY, status);
    write_reg32(NVME_CC, cc & ~CC_EN);
  }
  wait_ready(0, status);
  say(was_enabled ? "reset: CC.EN 1 -> 0, CSTS.RDY 0\n" : "reset: CC.EN was 0, CSTS.RDY 0\n");

  clear_queue(&admin_);
  const uint32_t size = admin_.entries - 1u; /* 0's based */
  write_reg32(NVME_AQA, size << 16 | size);
  write_reg64(NVME_ASQ, (uint64_t)(uintptr_t)admin_.sq);
  write_reg64(NVME_ACQ, (uint64_t)(uintptr_t)admin_.cq);
  const uint32_t config = CC_IOCQES | CC_IOSQES | CC_AMS_RR | CC_MPS_4K | CC_CSS_NVM;
  write_reg32(NVME_CC, config);
  write_reg32(NVME_CC, config | CC_EN);
  wait_ready(CSTS_RDY, status);
  say("enabled: admin queues of ");
  put_dec(admin_.entries);
  puts_serial(" entries, SQ at ");
  put_hex64((uintptr_t)admin_.sq);
  puts_serial(", CQ at ");
  put_hex64((uintptr_t)admin_.cq);
  puts_serial(", CC ");
  put_hex(reg32(NVME_CC));
  puts_serial(", CSTS.RDY 1\n");
}

static uint32_t block_size_;
static uint64_t namespace_blocks_;

static void put_field(const uint8_t* field, uint32_t length) {
  while (length && (field[length - 1] == ' ' || field[length - 1] == 0)) --length;
  for (uint32_t i = 0; i < length; ++i) {
    putc_serial(field[i] >= 0x20 && field[i] < 0x7f ? (char)field[i] : '?');
  }
}

static void identify(uint32_t cns, uint32_t nsid, const char* what) {
  for (uint32_t i = 0; i < PAGE; ++i) ((volatile uint8_t*)identify_buffer)[i] = 0;
  uint32_t command[SQE_DWORDS];
  clear_command(command);
  command[0] = ADMIN_IDENTIFY;
  command[1] = nsid;
  set_prp1(command, identify_buffer);
  command[10] = cns;
  admin_command(command, what, FERRY_NVMECHECK_EXIT_IDENTIFY);
  barrier();
}

static uint32_t le16_at(const uint8_t* p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32_at(const uint8_t* p) { return le16_at(p) | le16_at(p + 2) << 16; }
static uint64_t le64_at(const uint8_t* p) { return le32_at(p) | (uint64_t)le32_at(p + 4) << 32; }

/* Step 4: Identify Controller (CNS 1) and Identify Namespace 1 (CNS 0). */
static void identify_all(void) {
  const int status = FERRY_NVMECHECK_EXIT_IDENTIFY;
  const uint8_t* id = identify_buffer;
  identify(1, 0, "Identify Controller");
  say("identify: serial '");
  put_field(id + 4, 20);
  puts_serial("' model '");
  put_field(id + 24, 40);
  puts_serial("' firmware '");
  put_field(id + 64, 8);
  puts_serial("'\n");
  const uint32_t mdts = id[77], sqes = id[512], cqes = id[513], namespaces = le32_at(id + 516);
  say("identify: MDTS ");
  put_dec(mdts);
  puts_serial(", SQES ");
  put_hex64(sqes);
  puts_serial(", CQES ");
  put_hex64(cqes);
  puts_serial(", ");
  put_dec(namespaces);
  puts_serial(" namespace(s), volatile write cache ");
  puts_serial(id[525] & 1 ? "present\n" : "absent\n");
  if ((sqes & 0xf) > 6 || (sqes >> 4) < 6 || (cqes & 0xf) > 4 || (cqes >> 4) < 4) {
    fail(status, "the controller does not take 64-byte SQ and 16-byte CQ entries");
  }
  if (namespaces < FERRY_NVMECHECK_NSID) fail(status, "the controller has no namespace 1");

  identify(0, FERRY_NVMECHECK_NSID, "Identify Namespace 1");
  namespace_blocks_ = le64_at(id + 0);
  const uint32_t formats = id[25] + 1u, flbas = id[26];
  const uint32_t format = (flbas & 0xf) | ((flbas >> 5) & 3) << 4;
  const uint32_t lbaf = le32_at(id + 128 + 4 * (format & 63));
  const uint32_t metadata = lbaf & 0xffff, lbads = (lbaf >> 16) & 0xff;
  say("namespace 1: ");
  put_dec64(namespace_blocks_);
  puts_serial(" blocks of ");
  if (lbads < 32) put_dec(1u << lbads);
  puts_serial(" bytes (LBA format ");
  put_dec(format);
  puts_serial(" of ");
  put_dec(formats);
  puts_serial(", metadata ");
  put_dec(metadata);
  puts_serial(" bytes)\n");
  if (namespace_blocks_ == 0) fail(status, "namespace 1 is not active (size 0)");
  if (format >= formats) fail(status, "FLBAS names an LBA format beyond NLBAF");
  if (lbads < 9 || lbads > 12) fail(status, "LBA data size outside 512 bytes to 4 KiB");
  if (metadata != 0) fail(status, "the LBA format carries metadata; this guest handles none");
  if (namespace_blocks_ < FERRY_NVMECHECK_FIRST_LBA + FERRY_NVMECHECK_BLOCKS) {
    fail(status, "namespace 1 is smaller than LBA 0-8");
  }
  block_size_ = 1u << lbads;
  const uint32_t bytes = FERRY_NVMECHECK_BLOCKS * block_size_;
  if (mdts != 0 && (mdts >= 20 ? 0 : (PAGE << mdts) < bytes)) {
    fail(status, "MDTS is below the 8-block transfer this guest makes");
  }
}

/* Step 5: MSI-X entries 0 (admin) and 1 (I/O) to this vCPU's local APIC; timer for hlt.
 * MSI-X must be enabled before Create I/O Completion Queue: QEMU's NVMe (7.2) claims a queue's
 * vector only if MSI-X is enabled when the queue is created and drops messages for unclaimed
 * vectors. For the same reason its admin queue, created at CC.EN=1 before MSI-X is on, sends no
 * admin interrupts there; admin commands are polled, so that does not matter. */
static void setup_msix(void) {
  const int status = FERRY_NVMECHECK_EXIT_MSIX;
  uint32_t cap = 0;
  if (cfg_read16(PCI_STATUS) & 0x10) {
    uint32_t at = cfg_read8(PCI_CAPABILITIES) & 0xfc;
    for (int hops = 0; at >= 0x40 && hops < 48 && !cap; ++hops) {
      if (cfg_read8(at) == CAP_MSIX) cap = at;
      at = cfg_read8(at + 1) & 0xfc;
    }
  }
  if (!cap) fail(status, "no MSI-X capability in the configuration space");
  const uint32_t vectors = (cfg_read16(cap + 2) & 0x7ff) + 1u;
  const uint32_t table = cfg_read32(cap + 4), pba = cfg_read32(cap + 8);
  int is_64 = 0;
  const uint64_t table_bar = memory_bar(table & 7, &is_64);
  const uint64_t pba_bar = memory_bar(pba & 7, &is_64);
  say("MSI-X: ");
  put_dec(vectors);
  puts_serial(" vectors, table in BAR ");
  put_dec(table & 7);
  puts_serial(" at +");
  put_hex64(table & ~7u);
  puts_serial(", PBA in BAR ");
  put_dec(pba & 7);
  puts_serial(" at +");
  put_hex64(pba & ~7u);
  end_line();
  if (vectors <= IO_MSIX_ENTRY) fail(status, "MSI-X has fewer than 2 vectors");
  if (table_bar == 0 || pba_bar == 0) fail(status, "the MSI-X table or PBA BAR is not memory");
  const uint64_t table_at = table_bar + (table & ~7u);
  map_registers(table_at, vectors * 16ull);
  map_registers(pba_bar + (pba & ~7u), (vectors + 63) / 64 * 8ull);
  io_pba_dword_ = pba_bar + (pba & ~7u) + IO_MSIX_ENTRY / 32 * 4;

  enable_lapic_and_interrupts();
  cfg_write16(cap + 2, MSIX_ENABLE | MSIX_FUNCTION_MASK);
  const uint32_t apic = lapic_id();
  const uint32_t entries[2] = {ADMIN_MSIX_ENTRY, IO_MSIX_ENTRY};
  const uint32_t vector_of[2] = {ADMIN_VECTOR, IO_VECTOR};
  for (int i = 0; i < 2; ++i) {
    const uint64_t entry = table_at + entries[i] * 16ull;
    mmio_write32(entry + 0, 0xfee00000u | apic << 12); /* fixed delivery, physical destination */
    mmio_write32(entry + 4, 0);
    mmio_write32(entry + 8, vector_of[i]); /* edge */
    mmio_write32(entry + 12, 0);           /* unmasked */
  }
  cfg_write16(cap + 2, MSIX_ENABLE);
  const uint16_t control = cfg_read16(cap + 2);
  const uint32_t io_data = mmio_read32(table_at + IO_MSIX_ENTRY * 16ull + 8);
  const uint32_t io_control = mmio_read32(table_at + IO_MSIX_ENTRY * 16ull + 12);
  say("MSI-X: entry 0 -> vector ");
  put_hex64(ADMIN_VECTOR);
  puts_serial(" (admin), entry 1 -> vector ");
  put_hex64(IO_VECTOR);
  puts_serial(" (I/O), to APIC ");
  put_dec(apic);
  puts_serial("; message control ");
  put_hex64(control);
  end_line();
  if ((control & (MSIX_ENABLE | MSIX_FUNCTION_MASK)) != MSIX_ENABLE) {
    fail(status, "MSI-X did not stay enabled with the function mask clear");
  }
  if (io_data != IO_VECTOR || (io_control & 1)) {
    fail_begin("MSI-X entry 1 does not read back as written: data ");
    put_hex(io_data);
    puts_serial(", vector control ");
    put_hex(io_control);
    die(status);
  }
  start_timer();
}

/* Step 6: one I/O queue pair, its completions on MSI-X entry 1. */
static void create_io_queues(void) {
  const int status = FERRY_NVMECHECK_EXIT_QUEUES;
  uint32_t command[SQE_DWORDS];
  clear_command(command);
  command[0] = ADMIN_SET_FEATURES;
  command[10] = FEATURE_NUMBER_OF_QUEUES;
  command[11] = 0; /* one submission and one completion queue (0's based) */
  uint32_t error = 0;
  const uint32_t granted =
      admin_command_or_error(command, "Set Features (Number of Queues)", status, &error);
  if (error) { /* not fatal: creating the queues below is the real test */
    say("Set Features (Number of Queues) failed with status ");
    put_hex(error);
    puts_serial("; creating queue pair 1 anyway\n");
  } else {
    say("number of queues: ");
    put_dec((granted & 0xffff) + 1);
    puts_serial(" I/O submission, ");
    put_dec((granted >> 16) + 1);
    puts_serial(" I/O completion queue(s) allocated\n");
  }

  clear_queue(&io_);
  const uint32_t size = io_.entries - 1u; /* 0's based */
  clear_command(command);
  command[0] = ADMIN_CREATE_CQ;
  set_prp1(command, (const void*)io_.cq);
  command[10] = size << 16 | io_.qid;
  command[11] = (uint32_t)IO_MSIX_ENTRY << 16 | 0x2 /* IEN */ | 0x1 /* PC */;
  admin_command(command, "Create I/O Completion Queue 1", status);

  clear_command(command);
  command[0] = ADMIN_CREATE_SQ;
  set_prp1(command, (const void*)io_.sq);
  command[10] = size << 16 | io_.qid;
  command[11] = (uint32_t)io_.qid << 16 /* CQID */ | 0x1 /* PC */;
  admin_command(command, "Create I/O Submission Queue 1", status);
  say("I/O queues: CQ 1 (");
  put_dec(io_.entries);
  puts_serial(" entries, interrupts on MSI-X entry 1) and SQ 1 created\n");
}

static void rw_command(uint32_t opcode, uint64_t lba, uint32_t blocks, void* buffer,
                       uint64_t* prp_list, const char* what) {
  uint32_t command[SQE_DWORDS];
  clear_command(command);
  command[0] = opcode;
  command[1] = FERRY_NVMECHECK_NSID;
  set_prps(command, buffer, blocks * block_size_, prp_list);
  command[10] = (uint32_t)lba;
  command[11] = (uint32_t)(lba >> 32);
  command[12] = blocks - 1; /* 0's based */
  io_command(command, what);
}

/* A Flush of namespace 1: what was written is on the medium when it completes. */
static UNUSED void flush_namespace(void) {
  uint32_t command[SQE_DWORDS];
  clear_command(command);
  command[0] = NVM_FLUSH;
  command[1] = FERRY_NVMECHECK_NSID;
  io_command(command, "Flush");
}

static void zero_in_buffer(void) {
  for (uint32_t i = 0; i < DATA_BYTES / 8; ++i) ((volatile uint64_t*)in_buffer)[i] = 0;
}

/* Steps 1-6 on vCPU 0, the others halted for good (one driver is enough): the controller found,
 * enabled, identified, its MSI-X set up and an I/O queue pair created. */
static void bring_up_driver(uint32_t index) {
  if (index != 0) {
    for (;;) __asm__ volatile("cli; hlt");
  }
  install_idt();
  find_controller();
  enable_function();
  start_controller();
  identify_all();
  setup_msix();
  create_io_queues();
}

#ifndef FERRY_NVME_DRIVER_ONLY /* guests/nvme_dma_escape.c takes the driver above, not the steps \
                                */

/* Step 7: read the nonce, write the pattern, flush, read back, compare. Word w (8 bytes, little
 * endian) of the block at LBA l is nonce ^ (l << 32) ^ (w * 0x9e3779b97f4a7c15) modulo 2^64,
 * ferry_nvmecheck_pattern() in nvmecheck.h, w counting from 0 in each block. */
static void exercise_io(void) {
  zero_in_buffer();
  rw_command(NVM_READ, FERRY_NVMECHECK_NONCE_LBA, 1, in_buffer, in_prp_list, "Read LBA 0");
  barrier();
  const uint64_t nonce = in_buffer[0];
  say("nonce ");
  put_hex64(nonce);
  end_line();

  const uint32_t words = block_size_ / 8;
  for (uint32_t b = 0; b < FERRY_NVMECHECK_BLOCKS; ++b) {
    for (uint32_t w = 0; w < words; ++w) {
      out_buffer[b * words + w] = ferry_nvmecheck_pattern(nonce, FERRY_NVMECHECK_FIRST_LBA + b, w);
    }
  }
  barrier();
  rw_command(NVM_WRITE, FERRY_NVMECHECK_FIRST_LBA, FERRY_NVMECHECK_BLOCKS, out_buffer, out_prp_list,
             "Write LBA 1-8");
  flush_namespace();
  say("wrote LBA 1-8 and flushed\n");

  zero_in_buffer();
  rw_command(NVM_READ, FERRY_NVMECHECK_FIRST_LBA, FERRY_NVMECHECK_BLOCKS, in_buffer, in_prp_list,
             "Read LBA 1-8");
  barrier();
  uint32_t wrong = 0;
  for (uint32_t i = 0; i < FERRY_NVMECHECK_BLOCKS * words; ++i) {
    const uint64_t want = out_buffer[i], got = ((volatile uint64_t*)in_buffer)[i];
    if (want == got) continue;
    if (wrong++ < 4) {
      say("mismatch at LBA ");
      put_dec(FERRY_NVMECHECK_FIRST_LBA + i / words);
      puts_serial(" word ");
      put_dec(i % words);
      puts_serial(": wrote ");
      put_hex64(want);
      puts_serial(", read ");
      put_hex64(got);
      end_line();
    }
  }
  if (wrong) {
    fail_begin("the blocks read back differ from those written in ");
    put_dec(wrong);
    puts_serial(" of ");
    put_dec(FERRY_NVMECHECK_BLOCKS * words);
    puts_serial(" words");
    die(FERRY_NVMECHECK_EXIT_MISMATCH);
  }
}

/* Step 7b: the guest moves BAR 0 (decoding off, new address, decoding on), as an OS that
 * reassigns resources does; the I/O that follows goes to the new address, so the VMM must have
 * moved the device's registers with it. 64-bit BARs move 1 GiB up, 32-bit ones 128 MiB. */
static void move_bar0(void) {
  int is_64 = 0;
  const uint64_t from = memory_bar(0, &is_64);
  const uint64_t to = from + (is_64 ? (1ull << 30) : (128ull << 20));
  const uint16_t command = cfg_read16(PCI_COMMAND);
  cfg_write16(PCI_COMMAND, (uint16_t)(command & ~CMD_MEMORY));
  mmio_write32(ecam(0x10), (uint32_t)to | (cfg_read32(0x10) & 0xf));
  if (is_64) mmio_write32(ecam(0x14), (uint32_t)(to >> 32));
  cfg_write16(PCI_COMMAND, command);
  int check_64 = 0;
  if (memory_bar(0, &check_64) != to)
    fail(FERRY_NVMECHECK_EXIT_COMMAND, "BAR 0 did not take its new address");
  map_registers(to, 2 * PAGE);
  regs_ = to;
  if (io_pba_dword_) io_pba_dword_ = io_pba_dword_ - from + to;
  say("moved BAR0 from ");
  put_hex64(from);
  puts_serial(" to ");
  put_hex64(to);
  puts_serial(": CSTS ");
  put_hex64(reg32(NVME_CSTS));
  end_line();
  if (!(reg32(NVME_CSTS) & CSTS_RDY)) {
    fail(FERRY_NVMECHECK_EXIT_COMMAND, "the controller is not ready at BAR 0's new address");
  }
}

int guest_main(uint32_t index, uint32_t count) {
  (void)count;
  bring_up_driver(index);
  move_bar0();
  exercise_io();
  say("wrote and read back ");
  put_dec(FERRY_NVMECHECK_BLOCKS);
  puts_serial(" blocks at LBA 1-8; ");
  put_dec(io_completions);
  puts_serial(" I/O completions, ");
  put_dec(io_completions_by_interrupt);
  puts_serial(" by MSI-X interrupt\n");
  /* A known number of register reads on top of the driver's own (whose count depends on how
   * long it polls): the test compares the accesses with the VMM's MMIO exits. */
  const uint32_t version = reg32(NVME_VS);
  for (int i = 0; i < 1000; ++i) {
    if (reg32(NVME_VS) != version)
      fail(FERRY_NVMECHECK_EXIT_CONTROLLER, "VS changed between reads");
  }
  say("BAR0 register and doorbell accesses: ");
  put_dec(register_accesses_);
  end_line();
  say("ok\n");
  return FERRY_NVMECHECK_EXIT_OK;
}
#endif /* FERRY_NVME_DRIVER_ONLY */

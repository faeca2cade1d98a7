/* pci: drives ferry's guest PCI bus as firmware and an OS do. It enumerates bus 0 through
 * configuration mechanism #1 and through ECAM and checks that both see the same functions,
 * walks the test device's capabilities, sizes every BAR and the ROM with all-ones probes, moves
 * them to addresses of its own (the 64-bit BAR above 4 GiB), turns decoding on and off, reads
 * the ROM, and takes MSI-X interrupts from the PCI test device: one unmasked, one held in the PBA
 * by its vector mask and one by the function mask, each sent on unmask; with two vCPUs, one
 * retargeted from vCPU 1 to vCPU 0 while live. Needs one pci-test device (devices:
 * [{type: pci-test}]). Exits 0, or the number of the failed check (20+). */
#include "ferry/guests/pcitest.h"
#include "rt/interrupts64.h"

#define VECTOR_0 0x40
#define VECTOR_1 0x41
#define VECTOR_2 0x42 /* the one retargeted between vCPUs */
static volatile uint32_t received[256];
static volatile uint32_t vector_2_on_cpu[2];
static volatile uint32_t second_cpu_ready;

void on_interrupt(uint64_t vector) {
  received[vector & 0xff]++;
  if (vector == VECTOR_2) vector_2_on_cpu[lapic_id() & 1]++;
  lapic_eoi();
}

INTERRUPT_STUB(0x40)
INTERRUPT_STUB(0x41)
INTERRUPT_STUB(0x42)

/* Where this guest moves the test device's BARs (the VMM placed them elsewhere). */
#define REGS_AT (FERRY_PCI_MMIO32_BASE + 0x100000u)
#define ROM_AT (FERRY_PCI_MMIO32_BASE + 0x200000u)
#define PORTS_AT (FERRY_PCI_IO_BASE + 0x1000u)
/* The 64-bit BAR moves 1 GiB up from where the VMM put it, the start of the 64-bit window. */
#define MSIX_MOVE (1ull << 30)

#define CMD_IO 0x1
#define CMD_MEMORY 0x2
#define CMD_BUS_MASTER 0x4
#define MSIX_ENABLE 0x8000
#define MSIX_FUNCTION_MASK 0x4000

#define CHECK(code, condition, what)             \
  do {                                           \
    if (!(condition)) return failed(code, what); \
  } while (0)

static int failed(int code, const char* what) {
  puts_serial("pci: FAILED check ");
  put_dec((uint32_t)code);
  puts_serial(": ");
  puts_serial(what);
  puts_serial("\n");
  return code;
}

static void put_hex64(uint64_t v) {
  puts_serial("0x");
  for (int shift = 60; shift >= 0; shift -= 4) putc_serial("0123456789abcdef"[(v >> shift) & 0xf]);
}

/* Mechanism #1: latch the address at 0xcf8, then use the byte lanes of 0xcfc-0xcff. */
static void cf8_select(uint32_t bus, uint32_t slot, uint32_t fn, uint32_t reg) {
  outl(FERRY_PCI_CONFIG_ADDRESS, 0x80000000u | bus << 16 | slot << 11 | fn << 8 | (reg & 0xfc));
}
static uint32_t cf8_read32(uint32_t bus, uint32_t slot, uint32_t fn, uint32_t reg) {
  cf8_select(bus, slot, fn, reg);
  return inl(FERRY_PCI_CONFIG_DATA);
}
static uint16_t cf8_read16(uint32_t slot, uint32_t reg) {
  cf8_select(0, slot, 0, reg);
  return inw((uint16_t)(FERRY_PCI_CONFIG_DATA + (reg & 2)));
}
static uint8_t cf8_read8(uint32_t slot, uint32_t reg) {
  cf8_select(0, slot, 0, reg);
  return inb((uint16_t)(FERRY_PCI_CONFIG_DATA + (reg & 3)));
}
static void cf8_write32(uint32_t slot, uint32_t reg, uint32_t v) {
  cf8_select(0, slot, 0, reg);
  outl(FERRY_PCI_CONFIG_DATA, v);
}
static void cf8_write16(uint32_t slot, uint32_t reg, uint16_t v) {
  cf8_select(0, slot, 0, reg);
  outw((uint16_t)(FERRY_PCI_CONFIG_DATA + (reg & 2)), v);
}

/* ECAM: bus << 20 | slot << 15 | function << 12 | register. */
static uintptr_t ecam(uint32_t bus, uint32_t slot, uint32_t fn, uint32_t reg) {
  return FERRY_PCI_ECAM_BASE + (bus << 20 | slot << 15 | fn << 12 | reg);
}
static uint32_t ecam_read32(uint32_t slot, uint32_t reg) {
  return mmio_read32(ecam(0, slot, 0, reg));
}
static void ecam_write32(uint32_t slot, uint32_t reg, uint32_t v) {
  mmio_write32(ecam(0, slot, 0, reg), v);
}
static void ecam_write16(uint32_t slot, uint32_t reg, uint16_t v) {
  mmio_write16(ecam(0, slot, 0, reg), v);
}

static uint32_t slot_; /* where the test device is */
static uint32_t msix_cap_;
static uint64_t preassigned_msix_;
static uint64_t msix_at_;
static uint32_t preassigned_regs_;

/* Lists bus 0 through mechanism #1; finds the bridge at 00:00.0 and the test device. */
static int enumerate_cf8(void) {
  uint32_t functions = 0, test_devices = 0;
  for (uint32_t slot = 0; slot < 32; ++slot) {
    uint32_t header = cf8_read8(slot, 0x0e);
    for (uint32_t fn = 0; fn < ((header & 0x80) ? 8u : 1u); ++fn) {
      uint32_t id = cf8_read32(0, slot, fn, 0x00);
      if ((id & 0xffff) == 0xffff) continue;
      uint32_t class_code = cf8_read32(0, slot, fn, 0x08) >> 8;
      puts_serial("pci: 00:");
      putc_serial("0123456789abcdef"[slot >> 4]);
      putc_serial("0123456789abcdef"[slot & 15]);
      puts_serial(".");
      put_dec(fn);
      puts_serial(" id ");
      put_hex(id);
      puts_serial(" class ");
      put_hex(class_code);
      puts_serial("\n");
      ++functions;
      if (id == (FERRY_PCI_TEST_DEVICE_ID << 16 | FERRY_PCI_VENDOR_ID)) {
        slot_ = slot;
        ++test_devices;
      }
    }
  }
  CHECK(20, cf8_read32(0, 0, 0, 0) == (FERRY_PCI_BRIDGE_DEVICE_ID << 16 | FERRY_PCI_VENDOR_ID),
        "the host bridge answers at 00:00.0");
  CHECK(21, cf8_read16(0, 0x0a) == 0x0600, "00:00.0 is a host bridge (class 06/00)");
  CHECK(22, test_devices == 1, "exactly one pci-test device on bus 0");
  CHECK(23, functions == 2, "bus 0 holds the bridge and the test device only");
  CHECK(24, cf8_read32(1, 0, 0, 0) == 0xffffffffu, "bus 1 is empty");
  puts_serial("pci: mechanism #1 found the test device at 00:");
  putc_serial("0123456789abcdef"[slot_ >> 4]);
  putc_serial("0123456789abcdef"[slot_ & 15]);
  puts_serial(".0\n");
  return 0;
}

/* ECAM must show the same 256 bytes for every function, and more (extended space) for ours. */
static int enumerate_ecam(void) {
  for (uint32_t slot = 0; slot < 32; ++slot) {
    for (uint32_t reg = 0; reg < 256; reg += 4) {
      CHECK(25, ecam_read32(slot, reg) == cf8_read32(0, slot, 0, reg),
            "ECAM and mechanism #1 read the same configuration space");
    }
  }
  CHECK(26, mmio_read32(ecam(1, 0, 0, 0)) == 0xffffffffu, "ECAM: bus 1 is empty");
  CHECK(27, ecam_read32(slot_, 0x100) == 0, "ECAM reaches the (empty) extended space");
  puts_serial("pci: ECAM agrees with mechanism #1 on all 32 slots\n");
  return 0;
}

static int walk_capabilities(void) {
  CHECK(28, cf8_read16(slot_, 0x06) & 0x10, "status announces a capability list");
  uint32_t pcie = 0;
  uint32_t at = cf8_read8(slot_, 0x34);
  for (int hops = 0; at >= 0x40 && hops < 48; ++hops) {
    uint32_t id = cf8_read8(slot_, at);
    if (id == 0x11) msix_cap_ = at;
    if (id == 0x10) pcie = at;
    at = cf8_read8(slot_, at + 1) & 0xfc;
  }
  CHECK(29, msix_cap_ != 0 && pcie != 0, "the capability list has MSI-X and PCI Express");
  CHECK(30, (cf8_read16(slot_, msix_cap_ + 2) & 0x7ff) == FERRY_PCITEST_VECTORS - 1,
        "MSI-X table size");
  CHECK(31, cf8_read32(0, slot_, 0, msix_cap_ + 4) == (FERRY_PCITEST_MSIX_TABLE | 2),
        "MSI-X table in BAR 2 at offset 0");
  CHECK(32, cf8_read32(0, slot_, 0, msix_cap_ + 8) == (FERRY_PCITEST_MSIX_PBA | 2),
        "MSI-X PBA in BAR 2");
  CHECK(33, (cf8_read16(slot_, pcie + 2) & 0xf0) == 0x90, "a root complex integrated endpoint");
  puts_serial("pci: capabilities: MSI-X with 8 vectors, PCI Express\n");
  return 0;
}

/* Writes all ones, reads back, restores: what every OS does to size a BAR. */
static uint32_t probe(uint32_t reg) {
  uint32_t saved = cf8_read32(0, slot_, 0, reg);
  cf8_write32(slot_, reg, 0xffffffffu);
  uint32_t sized = cf8_read32(0, slot_, 0, reg);
  cf8_write32(slot_, reg, saved);
  return sized;
}

static int size_bars(void) {
  cf8_write16(slot_, 0x04, 0); /* no decoding while probing */
  uint32_t bar0 = ecam_read32(slot_, 0x10), bar1 = ecam_read32(slot_, 0x14);
  preassigned_regs_ = bar0 & ~0xfu;
  preassigned_msix_ = (uint64_t)ecam_read32(slot_, 0x1c) << 32 | (ecam_read32(slot_, 0x18) & ~0xfu);
  CHECK(34, bar0 >= FERRY_PCI_MMIO32_BASE && bar0 < FERRY_PCI_MMIO32_BASE + FERRY_PCI_MMIO32_SIZE,
        "the VMM put BAR 0 in the 32-bit window");
  CHECK(35, (bar1 & 1) && bar1 >= FERRY_PCI_IO_BASE, "the VMM put BAR 1 in the I/O window");
  CHECK(36, preassigned_msix_ >= 0x100000000ull, "the VMM put the 64-bit BAR above 4 GiB");
  msix_at_ = preassigned_msix_ + MSIX_MOVE;

  uint32_t p0 = probe(0x10), p1 = probe(0x14), p2 = probe(0x18), p3 = probe(0x1c);
  uint32_t p4 = probe(0x20), p5 = probe(0x24);
  uint64_t size0 = (uint32_t) ~(p0 & ~0xfu) + 1ull;
  uint64_t size1 = (uint16_t) ~(p1 & 0xfffcu) + 1ull;
  uint64_t size2 = ~(((uint64_t)p3 << 32 | p2) & ~0xfull) + 1;
  CHECK(37, (p0 & 0xf) == 0 && size0 == FERRY_PCITEST_REGS_SIZE, "BAR 0: 32-bit memory, 4 KiB");
  CHECK(38, (p1 & 3) == 1 && size1 == FERRY_PCITEST_IO_SIZE, "BAR 1: I/O, 32 ports");
  CHECK(39, (p2 & 0xf) == 4 && size2 == FERRY_PCITEST_MSIX_SIZE, "BARs 2-3: 64-bit, 16 KiB");
  CHECK(40, p4 == 0 && p5 == 0, "BARs 4 and 5 are not implemented");
  cf8_select(0, slot_, 0, 0x30);
  uint32_t rom = inl(FERRY_PCI_CONFIG_DATA);
  outl(FERRY_PCI_CONFIG_DATA, 0xfffff800u);
  uint32_t rom_probe = inl(FERRY_PCI_CONFIG_DATA);
  outl(FERRY_PCI_CONFIG_DATA, rom);
  CHECK(41, (uint32_t) ~(rom_probe & 0xfffff800u) + 1 == FERRY_PCITEST_ROM_SIZE, "ROM: 2 KiB");
  CHECK(42, probe(0x10) == p0, "sizing is repeatable");
  puts_serial("pci: sized BAR 0 ");
  put_dec((uint32_t)size0);
  puts_serial(" B memory, BAR 1 ");
  put_dec((uint32_t)size1);
  puts_serial(" ports, BAR 2 ");
  put_dec((uint32_t)size2);
  puts_serial(" B 64-bit memory, ROM ");
  put_dec((uint32_t) ~(rom_probe & 0xfffff800u) + 1);
  puts_serial(" B\n");
  return 0;
}

/* Maps the 2 MiB page holding `address` (below 512 GiB) uncached: ferry's boot tables cover only
 * the first 4 GiB and RAM, and the 64-bit BARs live above both. */
static uint64_t page_directories[2][512] __attribute__((aligned(4096)));
static unsigned directories_used;
static int map_2m(uint64_t address) {
  uint64_t cr3;
  __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
  uint64_t* pml4 = (uint64_t*)(cr3 & ~0xfffull);
  uint64_t* pdpt = (uint64_t*)(pml4[0] & ~0xfffull);
  CHECK(43, address < (1ull << 39), "the 64-bit BAR lies in the first 512 GiB");
  uint64_t* entry = &pdpt[address >> 30];
  if (!(*entry & 1)) {
    CHECK(43, directories_used < 2, "enough page directories");
    *entry = (uint64_t)page_directories[directories_used++] | 0x3;
  }
  CHECK(43, !(*entry & 0x80), "the 64-bit BAR is not in RAM's 1 GiB pages");
  uint64_t* pd = (uint64_t*)(*entry & ~0xfffull);
  /* present, writable, write-through, cache-disable, 2 MiB */
  pd[(address >> 21) & 511] = (address & ~0x1fffffull) | 0x9b;
  __asm__ volatile("mov %0, %%cr3" ::"r"(cr3) : "memory");
  return 0;
}

static int program_bars(void) {
  cf8_write32(slot_, 0x10, REGS_AT);
  ecam_write32(slot_, 0x14, PORTS_AT);
  ecam_write32(slot_, 0x18, (uint32_t)msix_at_);
  ecam_write32(slot_, 0x1c, (uint32_t)(msix_at_ >> 32));
  ecam_write32(slot_, 0x30, ROM_AT);
  CHECK(44, ecam_read32(slot_, 0x10) == REGS_AT, "BAR 0 holds its new address");
  CHECK(45, ecam_read32(slot_, 0x14) == (PORTS_AT | 1), "BAR 1 holds its new address");
  CHECK(46,
        ecam_read32(slot_, 0x18) == ((uint32_t)msix_at_ | 4) &&
            ecam_read32(slot_, 0x1c) == (uint32_t)(msix_at_ >> 32),
        "BARs 2-3 hold the new 64-bit address");
  CHECK(47, mmio_read32(REGS_AT + FERRY_PCITEST_ID) == 0xffffffffu,
        "nothing decodes while memory decoding is off");
  int mapped = map_2m(msix_at_);
  if (!mapped) mapped = map_2m(preassigned_msix_);
  if (mapped) return mapped;

  cf8_write16(slot_, 0x04, CMD_IO | CMD_MEMORY);
  CHECK(48, cf8_read16(slot_, 0x04) == (CMD_IO | CMD_MEMORY), "decoding is on");
  CHECK(49, mmio_read32(REGS_AT + FERRY_PCITEST_ID) == FERRY_PCITEST_MAGIC, "BAR 0 answers");
  CHECK(50, inl(PORTS_AT + FERRY_PCITEST_ID) == FERRY_PCITEST_MAGIC, "BAR 1 answers");
  mmio_write32(REGS_AT + FERRY_PCITEST_SCRATCH, 0x5eed1e55u);
  CHECK(51, inl(PORTS_AT + FERRY_PCITEST_SCRATCH) == 0x5eed1e55u, "one register block, two BARs");
  outl(PORTS_AT + FERRY_PCITEST_SCRATCH, 0x0ddba11u);
  CHECK(52, mmio_read32(REGS_AT + FERRY_PCITEST_SCRATCH) == 0x0ddba11u, "and back");
  CHECK(53, mmio_read32(msix_at_ + FERRY_PCITEST_MSIX_TABLE + 12) == 1,
        "the MSI-X table answers above 4 GiB, vector 0 masked");
  CHECK(54, mmio_read64(msix_at_ + FERRY_PCITEST_MSIX_PBA) == 0, "nothing pending");
  CHECK(55, mmio_read32(preassigned_msix_ + 12) == 0xffffffffu, "the old 64-bit address is dark");
  CHECK(72,
        preassigned_regs_ == REGS_AT ||
            mmio_read32(preassigned_regs_ + FERRY_PCITEST_ID) == 0xffffffffu,
        "the old BAR 0 address is dark");

  cf8_write16(slot_, 0x04, CMD_IO);
  CHECK(56, mmio_read32(REGS_AT + FERRY_PCITEST_ID) == 0xffffffffu, "memory decode off: dark");
  CHECK(57, inl(PORTS_AT + FERRY_PCITEST_ID) == FERRY_PCITEST_MAGIC, "I/O decode still on");
  cf8_write16(slot_, 0x04, CMD_IO | CMD_MEMORY);

  CHECK(58, mmio_read16(ROM_AT) == 0xffff, "the ROM is off until enabled");
  ecam_write32(slot_, 0x30, ROM_AT | 1);
  CHECK(59, mmio_read16(ROM_AT) == 0xaa55 && mmio_read8(ROM_AT + 2) == 'f',
        "the ROM starts 55 aa, then its name");
  ecam_write32(slot_, 0x30, ROM_AT);
  puts_serial("pci: BARs moved to ");
  put_hex(REGS_AT);
  puts_serial(", port ");
  put_hex(PORTS_AT);
  puts_serial(", ");
  put_hex64(msix_at_);
  puts_serial(" (from ");
  put_hex64(preassigned_msix_);
  puts_serial("), decoding on and off, ROM read\n");
  return 0;
}

static uint32_t reg(uint32_t offset) { return mmio_read32(REGS_AT + offset); }
static void ring(uint32_t vector) { mmio_write32(REGS_AT + FERRY_PCITEST_DOORBELL, vector); }
static uint64_t pba(void) { return mmio_read64(msix_at_ + FERRY_PCITEST_MSIX_PBA); }
static void set_entry_mask(uint32_t i, uint32_t masked) {
  mmio_write32(msix_at_ + FERRY_PCITEST_MSIX_TABLE + i * 16 + 12, masked);
}
static void msix_control(uint16_t bits) { ecam_write16(slot_, msix_cap_ + 2, bits); }
/* Gives a wrongly sent interrupt time to arrive. The VMM signals the irqfd before the doorbell
 * write completes and KVM injects an irqfd MSI at once, so one would be taken at the next
 * instruction; this is margin. Short, and without `pause`: on nested or software-assisted
 * hypervisors guest instructions (and pause exits) can cost microseconds each. */
static void linger(void) {
  for (int i = 0; i < 1000; ++i) __asm__ volatile("" ::: "memory");
}

static int msix(void) {
  set_gate(VECTOR_0, stub_0x40);
  set_gate(VECTOR_1, stub_0x41);
  load_idt();
  enable_lapic_and_interrupts();
  cf8_write16(slot_, 0x04, CMD_IO | CMD_MEMORY | CMD_BUS_MASTER);
  msix_control(MSIX_ENABLE | MSIX_FUNCTION_MASK);
  for (uint32_t i = 0; i < 2; ++i) {
    const uintptr_t entry = msix_at_ + FERRY_PCITEST_MSIX_TABLE + i * 16;
    mmio_write64(entry, 0xfee00000u | lapic_id() << 12); /* fixed, physical destination */
    mmio_write32(entry + 8, VECTOR_0 + i);               /* edge */
  }
  set_entry_mask(0, 0);
  msix_control(MSIX_ENABLE);

  ring(0);
  CHECK(60, wait_until(&received[VECTOR_0], 1), "vector 0 arrives");
  CHECK(61, reg(FERRY_PCITEST_SENT) == 1, "one message sent");
  puts_serial("pci: MSI-X vector 0 delivered\n");

  outl(PORTS_AT + FERRY_PCITEST_DOORBELL, 1); /* vector 1 is still masked: two signals */
  ring(1);                                    /* leave one pending bit, one message on unmask */
  linger();
  CHECK(62, received[VECTOR_1] == 0, "a masked vector does not arrive");
  CHECK(63, pba() == 2, "it is pending in the PBA");
  set_entry_mask(1, 0);
  CHECK(64, wait_until(&received[VECTOR_1], 1), "unmasking sends it");
  CHECK(65, pba() == 0 && reg(FERRY_PCITEST_SENT) == 2, "and clears its pending bit");
  puts_serial("pci: masked vector 1 pending in the PBA, delivered on unmask\n");

  msix_control(MSIX_ENABLE | MSIX_FUNCTION_MASK);
  ring(0);
  linger();
  CHECK(66, received[VECTOR_0] == 1, "the function mask holds vector 0");
  CHECK(67, pba() == 1, "pending in the PBA");
  msix_control(MSIX_ENABLE);
  CHECK(68, wait_until(&received[VECTOR_0], 2), "clearing the function mask sends it");
  CHECK(69, pba() == 0 && reg(FERRY_PCITEST_SENT) == 3, "and clears its pending bit");
  puts_serial("pci: function-masked vector 0 pending, delivered on unmask\n");

  ring(FERRY_PCITEST_VECTORS); /* no such vector */
  cf8_write16(slot_, 0x04, CMD_IO | CMD_MEMORY);
  ring(0); /* bus mastering off: the device cannot send */
  linger();
  CHECK(70, reg(FERRY_PCITEST_DROPPED) == 2 && reg(FERRY_PCITEST_SENT) == 3,
        "a bad vector and a doorbell without bus mastering send nothing");
  CHECK(71, received[VECTOR_0] == 2 && received[VECTOR_1] == 1, "each message arrived once");
  puts_serial("pci: 3 MSI-X messages, each delivered exactly once\n");
  return 0;
}

static void set_entry_destination(uint32_t i, uint32_t apic_id) {
  mmio_write64(msix_at_ + FERRY_PCITEST_MSIX_TABLE + i * 16, 0xfee00000u | apic_id << 12);
}

/* With a second vCPU: vector 2 goes to APIC 1, then is retargeted to APIC 0 while unmasked (a
 * live rewrite, which the VMM must apply without losing or misdirecting the next message). */
static int retarget(void) {
  set_gate(VECTOR_2, stub_0x42);
  cf8_write16(slot_, 0x04, CMD_IO | CMD_MEMORY | CMD_BUS_MASTER);
  CHECK(72, wait_until(&second_cpu_ready, 1), "the second vCPU takes interrupts");
  set_entry_destination(2, 1);
  mmio_write32(msix_at_ + FERRY_PCITEST_MSIX_TABLE + 2 * 16 + 8, VECTOR_2);
  set_entry_mask(2, 0);
  ring(2);
  CHECK(73, wait_until(&vector_2_on_cpu[1], 1), "vector 2 arrives on vCPU 1");
  set_entry_destination(2, lapic_id()); /* live: the entry stays unmasked */
  ring(2);
  CHECK(74, wait_until(&vector_2_on_cpu[0], 1), "after the retarget it arrives on vCPU 0");
  linger();
  CHECK(75, vector_2_on_cpu[1] == 1 && vector_2_on_cpu[0] == 1, "each message arrived once");
  puts_serial("pci: vector 2 retargeted from vCPU 1 to vCPU 0 while live\n");
  return 0;
}

int guest_main(uint32_t index, uint32_t count) {
  if (index != 0) { /* one driver is enough; the second vCPU only takes interrupts */
    load_idt();
    enable_lapic_and_interrupts();
    if (index == 1) __atomic_store_n(&second_cpu_ready, 1, __ATOMIC_RELEASE);
    for (;;) __asm__ volatile("hlt");
  }
  int result = enumerate_cf8();
  if (!result) result = enumerate_ecam();
  if (!result) result = walk_capabilities();
  if (!result) result = size_bars();
  if (!result) result = program_bars();
  if (!result) result = msix();
  if (!result && count >= 2) result = retarget();
  if (!result) puts_serial("pci: all checks passed\n");
  return result;
}

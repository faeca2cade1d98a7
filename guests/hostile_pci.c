/* hostile_pci: a guest that abuses ferry's PCI configuration space, then proves it still works.
 * 1. BARs over RAM (the guest's own page), over the ECAM window (the device's own configuration
 *    page and the host bridge's), over each other (BAR 0 inside the MSI-X BAR, the ROM on BAR 0),
 *    over the local APIC, the IOAPIC and the platform test device, flush with the 32-bit window's
 *    end (right below ECAM), at the top of the 64-bit address space, and the I/O BAR over COM1
 *    and the exit port; each with decoding on. RAM must stay RAM (reads see the guest's pattern,
 *    writes do not reach the device), config space and the platform devices must keep
 *    answering, and each BAR moved back works again.
 * 2. Capability pointers: the guest writes every next pointer (and 0x34, the IDs, the status
 *    bit) with 0xff, its own offset and 0x40, byte, word and dword wide, through mechanism #1
 *    and ECAM; a walk bounded to 48 hops must still end at 0 after the same capabilities.
 * 3. All ones and then zeros to every dword of the device's 4 KiB (ECAM) and of the host
 *    bridge's, and reads of absent buses and functions: the IDs stay, absent ones read all ones.
 * Needs one pci-test device. Exits 0, or the failed check's number (20+). */
#include "rt/checks.h"
#include "rt/interrupts64.h"
#include "rt/pci_config.h"

#define REGS_AT (FERRY_PCI_MMIO32_BASE + 0x100000u)
#define MSIX_AT (FERRY_PCI_MMIO32_BASE + 0x200000u)
#define ROM_AT (FERRY_PCI_MMIO32_BASE + 0x300000u)
#define PORTS_AT (FERRY_PCI_IO_BASE + 0x1000u)
#define PATTERN 0xa5a5a5a5u

static int failed(int code, const char* what) {
  print_failed_check("hostile_pci", code, what);
  puts_serial(")\n");
  return code;
}

static volatile uint32_t ram_page[1024] __attribute__((aligned(4096)));
static uint32_t slot_;

static uint32_t port_reg(uint32_t offset) { return inl((uint16_t)(PORTS_AT + offset)); }
static void set_bar0(uint32_t address) { cf8_write32(slot_, 0x10, address); }
static int device_at_home(void) {
  set_bar0(REGS_AT);
  cf8_write32(slot_, 0x14, PORTS_AT);
  cf8_write32(slot_, 0x18, MSIX_AT);
  cf8_write32(slot_, 0x1c, 0);
  cf8_write32(slot_, 0x30, ROM_AT);
  cf8_write16(slot_, PCI_COMMAND, PCI_CMD_IO | PCI_CMD_MEMORY);
  CHECK(21, mmio_read32(REGS_AT + FERRY_PCITEST_ID) == FERRY_PCITEST_MAGIC, "BAR 0 answers");
  CHECK(22, port_reg(FERRY_PCITEST_ID) == FERRY_PCITEST_MAGIC, "BAR 1 answers");
  CHECK(23, mmio_read32(MSIX_AT + 12) == 1, "the MSI-X BAR answers (vector 0 masked)");
  return 0;
}

/* BAR 0 at `address` must not decode there; what is there keeps answering. */
static int bar0_dark_at(uint32_t address, uint32_t code) {
  failed_detail = address;
  outl(PORTS_AT + FERRY_PCITEST_SCRATCH, 0x5cafe5u);
  set_bar0(address);
  CHECK(30, cf8_read32(slot_, 0x10) == address, "BAR 0 holds what the guest wrote");
  CHECK(31, mmio_read32(REGS_AT + FERRY_PCITEST_ID) == 0xffffffffu, "the old address is dark");
  if (address != (uint32_t)(uintptr_t)ram_page) {
    CHECK((int)code, mmio_read32(address + FERRY_PCITEST_ID) != FERRY_PCITEST_MAGIC,
          "the device does not answer there");
  }
  CHECK(32, port_reg(FERRY_PCITEST_SCRATCH) == 0x5cafe5u, "the device's registers are untouched");
  return 0;
}

static int bars(void) {
  int result = device_at_home();
  if (result) return result;
  const uint32_t ram = (uint32_t)(uintptr_t)ram_page;
  for (int i = 0; i < 1024; ++i) ram_page[i] = PATTERN;

  /* Over RAM: reads see RAM, writes land in RAM and not in the device. */
  if ((result = bar0_dark_at(ram, 40))) return result;
  CHECK(41, ram_page[FERRY_PCITEST_ID / 4] == PATTERN, "RAM under BAR 0 reads as RAM");
  ram_page[FERRY_PCITEST_SCRATCH / 4] = 0x12345678u;
  ram_page[FERRY_PCITEST_DOORBELL / 4] = 0;
  CHECK(42, ram_page[FERRY_PCITEST_SCRATCH / 4] == 0x12345678u, "writes under BAR 0 land in RAM");
  CHECK(43, port_reg(FERRY_PCITEST_SCRATCH) == 0x5cafe5u, "and not in the device");
  CHECK(44, port_reg(FERRY_PCITEST_SENT) == 0 && port_reg(FERRY_PCITEST_DROPPED) == 0,
        "no doorbell rang");
  /* The 64-bit BAR over RAM at 0 and at the guest's page, high half zero. */
  cf8_write32(slot_, 0x18, 0);
  CHECK(45, ram_page[0] == PATTERN && mmio_read32(MSIX_AT + 12) == 0xffffffffu,
        "the MSI-X BAR over RAM decodes nothing");
  cf8_write32(slot_, 0x18, ram);
  CHECK(46, ram_page[3] == PATTERN, "RAM under the MSI-X BAR reads as RAM");
  if ((result = device_at_home())) return result;
  CHECK(47, ram_page[3] == PATTERN && ram_page[FERRY_PCITEST_SCRATCH / 4] == 0x12345678u,
        "and RAM kept every word");
  puts_serial("hostile_pci: BARs over RAM decode nothing; RAM stays RAM, then they work again\n");

  /* Over ECAM: the device's own configuration page, the bridge's, and flush below it. */
  if ((result = bar0_dark_at((uint32_t)ecam_at(slot_, 0), 50))) return result;
  CHECK(51, mmio_read32(ecam_at(slot_, 0)) == (FERRY_PCI_TEST_DEVICE_ID << 16 | FERRY_PCI_VENDOR_ID),
        "ECAM still answers under BAR 0");
  if ((result = bar0_dark_at(FERRY_PCI_ECAM_BASE, 52))) return result;
  CHECK(53, mmio_read32(FERRY_PCI_ECAM_BASE) == (FERRY_PCI_BRIDGE_DEVICE_ID << 16 | FERRY_PCI_VENDOR_ID),
        "the bridge's ECAM page too");
  /* The window's end is aligned beyond any BAR size, so a BAR can only end flush with it. */
  cf8_write32(slot_, 0x18, FERRY_PCI_MMIO32_BASE + FERRY_PCI_MMIO32_SIZE - FERRY_PCITEST_MSIX_SIZE);
  CHECK(54,
        mmio_read32(FERRY_PCI_MMIO32_BASE + FERRY_PCI_MMIO32_SIZE - FERRY_PCITEST_MSIX_SIZE + 12) == 1,
        "a BAR flush with the window's end decodes");
  CHECK(55, mmio_read32(FERRY_PCI_ECAM_BASE) == (FERRY_PCI_BRIDGE_DEVICE_ID << 16 | FERRY_PCI_VENDOR_ID),
        "and ECAM behind it still answers");
  if ((result = device_at_home())) return result;
  puts_serial("hostile_pci: BARs over ECAM decode nothing; config space keeps answering\n");

  /* Over the platform's devices. */
  if ((result = bar0_dark_at(LAPIC_BASE, 60))) return result;
  CHECK(61, lapic_id() == 0, "the local APIC still answers");
  if ((result = bar0_dark_at(IOAPIC_BASE, 62))) return result;
  CHECK(63, ioapic_read(0x01) == 0x00170020u, "the IOAPIC still answers");
  if ((result = bar0_dark_at(FERRY_TESTDEV_BASE, 64))) return result;
  CHECK(65, mmio_read32(FERRY_TESTDEV_BASE) == FERRY_TESTDEV_MAGIC, "the test device answers");
  if ((result = bar0_dark_at(0xfffff000u, 66))) return result;
  /* The 64-bit BAR at the top of the address space, and left holding its sizing pattern. */
  cf8_write32(slot_, 0x18, 0xffffc000u);
  cf8_write32(slot_, 0x1c, 0xffffffffu);
  CHECK(67, mmio_read32(MSIX_AT + 12) == 0xffffffffu, "the MSI-X BAR left its old address");
  cf8_write32(slot_, 0x1c, 0x80000000u);
  if ((result = device_at_home())) return result;
  puts_serial("hostile_pci: BARs over the APIC, IOAPIC, test device and 4 GiB decode nothing\n");

  /* Over each other. */
  set_bar0(MSIX_AT);
  CHECK(70, mmio_read32(MSIX_AT + 12) == 1, "BAR 0 inside the MSI-X BAR: the table still answers");
  CHECK(71, mmio_read32(MSIX_AT + FERRY_PCITEST_ID) != FERRY_PCITEST_MAGIC, "BAR 0 stays dark");
  cf8_write32(slot_, 0x18, REGS_AT); /* the MSI-X BAR leaves: BAR 0 gets the range... */
  CHECK(72, mmio_read32(MSIX_AT + FERRY_PCITEST_ID) == FERRY_PCITEST_MAGIC,
        "a BAR left dark decodes once the range is free");
  CHECK(73, mmio_read32(REGS_AT + 12) == 1, "...and the MSI-X BAR answers where it went");
  cf8_write32(slot_, 0x30, MSIX_AT | 1); /* the ROM on BAR 0 */
  CHECK(74, mmio_read32(MSIX_AT + FERRY_PCITEST_ID) == FERRY_PCITEST_MAGIC, "BAR 0 keeps it");
  cf8_write32(slot_, 0x14, 0x3e0u); /* the I/O BAR over COM1 (0x3f8-0x3ff) */
  CHECK(75, inl(0x3e0u + FERRY_PCITEST_ID) != FERRY_PCITEST_MAGIC && (inb(COM1 + 5) & 0x20),
        "an I/O BAR over COM1 decodes nothing; COM1 still answers");
  cf8_write32(slot_, 0x14, 0xe0u); /* over the exit port (0xf4): the guest could not exit */
  CHECK(77, inl(0xe0u + FERRY_PCITEST_ID) != FERRY_PCITEST_MAGIC, "nor one over the exit port");
  if ((result = device_at_home())) return result;
  cf8_write32(slot_, 0x30, ROM_AT | 1);
  CHECK(76, mmio_read16(ROM_AT) == 0xaa55, "the ROM moved back reads");
  cf8_write32(slot_, 0x30, ROM_AT);
  puts_serial("hostile_pci: overlapping BARs: one decodes, then each moved back works\n");
  return 0;
}

static uint32_t walk(uint8_t* ids, uint32_t* hops_out) {
  uint32_t at = cf8_read8(slot_, PCI_CAPABILITIES) & 0xfc;
  uint32_t hops = 0;
  for (; at >= 0x40 && hops < 48; ++hops) {
    ids[hops] = cf8_read8(slot_, at);
    at = cf8_read8(slot_, at + 1) & 0xfc;
  }
  *hops_out = hops;
  return at;
}

static int capabilities(void) {
  uint8_t ids[48], after[48];
  uint32_t hops = 0, hops_after = 0;
  CHECK(80, walk(ids, &hops) == 0 && hops >= 2, "the list ends at 0");
  uint32_t offsets[48];
  uint32_t at = cf8_read8(slot_, PCI_CAPABILITIES);
  for (uint32_t i = 0; i < hops; ++i, at = cf8_read8(slot_, at + 1)) offsets[i] = at;
  const uint8_t values[] = {0xff, 0x40, 0x00};
  for (uint32_t i = 0; i < hops; ++i) {
    for (unsigned v = 0; v < sizeof values; ++v) {
      const uint8_t next = values[v] ? values[v] : (uint8_t)offsets[i]; /* 0: point at itself */
      cf8_write8(slot_, offsets[i] + 1, next);
      cf8_write16(slot_, offsets[i], (uint16_t)(next << 8 | next));
      cf8_write32(slot_, offsets[i], 0xffff0000u | next << 8 | next);
      mmio_write8(ecam_at(slot_, offsets[i] + 1), next);
      mmio_write32(ecam_at(slot_, offsets[i]), 0xffffffffu);
      cf8_write8(slot_, PCI_CAPABILITIES, next);
      mmio_write8(ecam_at(slot_, PCI_CAPABILITIES), (uint8_t)offsets[i]);
      cf8_write16(slot_, 0x06, 0xffff); /* status: write-one-to-clear bits, capability list RO */
    }
  }
  failed_detail = hops;
  CHECK(81, walk(after, &hops_after) == 0 && hops_after == hops, "the walk still ends at 0");
  for (uint32_t i = 0; i < hops; ++i) {
    failed_detail = i;
    CHECK(82, after[i] == ids[i], "through the same capabilities");
  }
  CHECK(83, cf8_read16(slot_, 0x06) & 0x10, "the status register still announces the list");
  puts_serial("hostile_pci: capability pointers written with loops: the walk ends at 0 after ");
  put_dec(hops);
  puts_serial(" capabilities\n");
  return 0;
}

static int config_garbage(void) {
  const uint32_t id = cf8_read32(slot_, 0), class_rev = cf8_read32(slot_, 8);
  const uint32_t bridge = cf8_read32(0, 0), bridge_class = cf8_read32(0, 8);
  const uint32_t values[] = {0xffffffffu, 0};
  for (int v = 0; v < 2; ++v) {
    for (uint32_t reg = 0; reg < 0x1000; reg += 4) {
      mmio_write32(ecam_at(slot_, reg), values[v]);
      mmio_write32(ecam_at(0, reg), values[v]);
    }
    for (uint32_t reg = 0; reg < 0x100; reg += 4) cf8_write32(31, reg, values[v]);
  }
  CHECK(90, cf8_read32(slot_, 0) == id && cf8_read32(slot_, 8) == class_rev,
        "the device's IDs and class stay");
  CHECK(91, cf8_read32(0, 0) == bridge && cf8_read32(0, 8) == bridge_class, "the bridge's too");
  CHECK(92, cf8_read32(31, 0) == 0xffffffffu || slot_ == 31, "an absent slot reads all ones");
  CHECK(93, mmio_read32(FERRY_PCI_ECAM_BASE + (255u << 20 | 31u << 15 | 7u << 12 | 0xffc)) ==
                0xffffffffu,
        "so does the last function of the last bus");
  uint8_t ids[48];
  uint32_t hops = 0;
  CHECK(94, walk(ids, &hops) == 0 && hops >= 2, "the capability walk still ends at 0");
  int result = device_at_home();
  if (result) return result;
  mmio_write32(REGS_AT + FERRY_PCITEST_SCRATCH, 0x600dd00du);
  CHECK(95, port_reg(FERRY_PCITEST_SCRATCH) == 0x600dd00du, "both BARs reach one device");
  puts_serial("hostile_pci: all ones and zeros over 2 x 4 KiB of config space: IDs and list intact\n");
  return 0;
}

int guest_main(uint32_t index, uint32_t count) {
  (void)index, (void)count;
  slot_ = find_pci_test();
  if (slot_ >= 32) return failed(20, "a pci-test device");
  int result = bars();
  if (!result) result = capabilities();
  if (!result) result = config_garbage();
  if (!result) puts_serial("hostile_pci: all checks passed\n");
  return result;
}

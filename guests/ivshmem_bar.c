/* ivshmem-bar: checks a large 64-bit BAR of an assigned device (VFIO) end to end. It finds the
 * first ivshmem function (bus 0 or below a root port), sizes BAR 2 the way firmware does, checks
 * that ferry placed it in the 64-bit window naturally aligned, maps the BAR's first and last 2 MiB
 * into its own page tables (ferry's boot tables stop at 4 GiB and RAM), reads the host's nonce at
 * offset 0, writes a pattern derived from it into the first and the last page, and reads it back
 * (guests/include/ferry/guests/ivshmemcheck.h has the contract with the host test). */
#include "ferry/guests/ivshmemcheck.h"
#include "rt/pci_config.h"
#include "rt/pci_find.h"
#include "rt/uncached_map.h"

static void put_hex64(uint64_t v) {
  puts_serial("0x");
  int digits = 1;
  while (digits < 16 && (v >> (digits * 4))) ++digits;
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
    putc_serial("0123456789abcdef"[(v >> shift) & 0xf]);
  }
}
static void say(const char* s) {
  puts_serial("ivshmem: ");
  puts_serial(s);
}
static __attribute__((noreturn)) void fail(int status, const char* reason) {
  say("FAIL: ");
  puts_serial(reason);
  puts_serial("\n");
  guest_exit((uint8_t)status);
}

/* ---- The device and its BAR ------------------------------------------------------------------ */

#define BAR_REG(index) (0x10u + 4u * (index))

static int is_ivshmem(uint32_t device) {
  return mmio_read32(ecam_at(device, 0)) ==
         (FERRY_IVSHMEMCHECK_DEVICE << 16 | FERRY_IVSHMEMCHECK_VENDOR);
}

struct bar {
  uint64_t address;
  uint64_t size;
};

/* Reads BAR `index` (64-bit memory) and sizes it with all-ones writes, memory decoding off
 * meanwhile, as firmware does; the BAR keeps the address ferry gave it. */
static struct bar size_bar64(uint32_t slot, uint32_t index) {
  const uintptr_t low_reg = ecam_at(slot, BAR_REG(index));
  const uintptr_t high_reg = ecam_at(slot, BAR_REG(index + 1));
  const uint32_t low = mmio_read32(low_reg);
  if ((low & 1) || ((low >> 1) & 3) != 2) {
    fail(FERRY_IVSHMEMCHECK_EXIT_NO_DEVICE, "BAR 2 is not a 64-bit memory BAR");
  }
  const uint32_t high = mmio_read32(high_reg);
  const uint16_t command = mmio_read16(ecam_at(slot, PCI_COMMAND));
  mmio_write16(ecam_at(slot, PCI_COMMAND), (uint16_t)(command & ~PCI_CMD_MEMORY));
  mmio_write32(low_reg, 0xffffffffu);
  mmio_write32(high_reg, 0xffffffffu);
  const uint64_t mask = (uint64_t)mmio_read32(high_reg) << 32 | (mmio_read32(low_reg) & ~0xfu);
  mmio_write32(low_reg, low);
  mmio_write32(high_reg, high);
  mmio_write16(ecam_at(slot, PCI_COMMAND), (uint16_t)(command | PCI_CMD_MEMORY));
  const struct bar bar = {(uint64_t)high << 32 | (low & ~0xfu), ~mask + 1};
  return bar;
}

/* ---- Page tables ----------------------------------------------------------------------------- */

/* Identity-maps the 2 MiB page at `page` (2 MiB aligned) uncached (rt/uncached_map.h). */
static void map_2mib(uint64_t page) {
  const char* why = map_uncached(page, TWO_MIB);
  if (why != 0) fail(FERRY_IVSHMEMCHECK_EXIT_PLACEMENT, why);
}

/* ---- The pattern ----------------------------------------------------------------------------- */

/* Writes (or, with check, compares) the pattern at [from, to) of the BAR; the mismatches. */
static uint64_t pattern(const struct bar* bar, uint64_t nonce, uint64_t from, uint64_t to,
                        int check) {
  uint64_t mismatches = 0;
  for (uint64_t offset = from; offset < to; offset += 8) {
    const uint64_t want = ferry_ivshmemcheck_pattern(nonce, offset);
    if (!check) {
      mmio_write64(bar->address + offset, want);
    } else if (mmio_read64(bar->address + offset) != want) {
      if (++mismatches <= 4) {
        say("mismatch at BAR offset ");
        put_hex64(offset);
        puts_serial("\n");
      }
    }
  }
  return mismatches;
}

int guest_main(uint32_t index, uint32_t count) {
  (void)count;
  if (index != 0) return 0;
  const uint32_t slot = pci_find_device(is_ivshmem);
  if (slot == PCI_NO_DEVICE) {
    fail(FERRY_IVSHMEMCHECK_EXIT_NO_DEVICE, "no ivshmem (1af4:1110) on bus 0 or below a root port");
  }
  const struct bar bar = size_bar64(slot, FERRY_IVSHMEMCHECK_BAR);
  say("BAR2 at ");
  put_hex64(bar.address);
  puts_serial(" size ");
  put_hex64(bar.size);
  puts_serial("\n");
  if (bar.size < TWO_MIB || (bar.size & (bar.size - 1)) != 0) {
    fail(FERRY_IVSHMEMCHECK_EXIT_NO_DEVICE, "BAR 2's size is not a power of two of 2 MiB or more");
  }
  if (bar.address < FERRY_IVSHMEMCHECK_WINDOW_FLOOR) {
    fail(FERRY_IVSHMEMCHECK_EXIT_PLACEMENT, "BAR 2 lies below 4 GiB, not in the 64-bit window");
  }
  if (bar.address & (bar.size - 1)) {
    fail(FERRY_IVSHMEMCHECK_EXIT_PLACEMENT, "BAR 2 is not aligned to its size");
  }
  if (bar.address + bar.size > (1ull << 48)) {
    fail(FERRY_IVSHMEMCHECK_EXIT_PLACEMENT, "BAR 2 ends beyond 48-bit addresses");
  }
  map_2mib(bar.address);
  map_2mib(bar.address + bar.size - TWO_MIB);

  const uint64_t nonce = mmio_read64(bar.address);
  say("nonce ");
  put_hex64(nonce);
  puts_serial("\n");
  const uint64_t last = bar.size - FERRY_IVSHMEMCHECK_PAGE;
  pattern(&bar, nonce, 8, FERRY_IVSHMEMCHECK_PAGE, 0);
  pattern(&bar, nonce, last, bar.size, 0);
  const uint64_t mismatches =
      pattern(&bar, nonce, 8, FERRY_IVSHMEMCHECK_PAGE, 1) + pattern(&bar, nonce, last, bar.size, 1);
  if (mismatches != 0) fail(FERRY_IVSHMEMCHECK_EXIT_MISMATCH, "the words read back differ");
  say("first and last page written and read back\n");
  say("ok\n");
  return FERRY_IVSHMEMCHECK_EXIT_OK;
}

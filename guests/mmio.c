/* mmio: reads and writes the ferry test device at every access width, checks the values it
 * gets back, and checks that an address no device claims reads as all ones. Exits with 0, or
 * with the number of the first failed check. */
#include "rt/guest.h"

#define REG(off) ((uintptr_t)FERRY_TESTDEV_BASE + (off))
#define UNCLAIMED ((uintptr_t)FERRY_TESTDEV_BASE + FERRY_TESTDEV_SIZE)

static int checks;

static void check(int ok, const char* what) {
  ++checks;
  if (ok) return;
  puts_serial("mmio: check ");
  put_dec((uint32_t)checks);
  puts_serial(" failed: ");
  puts_serial(what);
  puts_serial("\n");
  guest_exit((uint8_t)checks);
}

int guest_main(uint32_t index, uint32_t count) {
  (void)index, (void)count;
  check(mmio_read32(REG(FERRY_TESTDEV_ID)) == FERRY_TESTDEV_MAGIC, "device id");
  check(mmio_read32(REG(FERRY_TESTDEV_VERSION)) == 1, "device version");

  const uintptr_t s = REG(FERRY_TESTDEV_SCRATCH);
  mmio_write64(s, 0x1122334455667788ull);
  check(mmio_read64(s) == 0x1122334455667788ull, "64-bit write then read");
  check(mmio_read8(s) == 0x88 && mmio_read8(s + 7) == 0x11, "bytes are little-endian");
  check(mmio_read16(s + 2) == 0x5566, "16-bit read inside a 64-bit value");
  check(mmio_read32(s + 4) == 0x11223344, "32-bit read of the high half");

  mmio_write8(s + 1, 0xab);
  mmio_write16(s + 3, 0xcdef);
  mmio_write32(s + 9, 0xdeadbeef);
  check(mmio_read64(s) == 0x112233cdef66ab88ull, "narrow writes merge into the value");
  check(mmio_read32(s + 9) == 0xdeadbeef, "unaligned 32-bit write and read");
  check(mmio_read64(s + FERRY_TESTDEV_SCRATCH_SIZE - 8) == 0, "untouched scratch is zero");

  check(mmio_read8(UNCLAIMED) == 0xff, "unclaimed 8-bit read is all ones");
  check(mmio_read16(UNCLAIMED) == 0xffff, "unclaimed 16-bit read is all ones");
  check(mmio_read32(UNCLAIMED) == 0xffffffffu, "unclaimed 32-bit read is all ones");
  check(mmio_read64(UNCLAIMED) == ~0ull, "unclaimed 64-bit read is all ones");
  mmio_write32(UNCLAIMED, 0x12345678); /* dropped, and must not end the VM */

  /* Every access above went through the VMM: 2 id + 6 + 3 narrow writes + 3 reads. */
  uint32_t accesses = mmio_read32(REG(FERRY_TESTDEV_ACCESSES));
  check(accesses == 14, "the device saw every access");

  puts_serial("mmio: ");
  put_dec((uint32_t)checks);
  puts_serial(" checks passed\n");
  return 0;
}

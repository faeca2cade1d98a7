/* The ivshmem-bar guest (guests/ivshmem_bar.c): what it reads and writes through the shared-memory
 * BAR of an assigned ivshmem-plain device, so that a host test can prepare the memory behind it
 * and check it afterwards. Plain C (pure arithmetic, no guest runtime), shared by the freestanding
 * guest and C++ tests.
 *
 * The guest finds the first ivshmem function (1af4:1110) on bus 0, sizes its BAR 2 (64-bit
 * memory) and checks that it lies at or above FERRY_IVSHMEMCHECK_WINDOW_FLOOR, naturally aligned.
 * Then, with `size` the BAR's size:
 *   1. reads the 8 bytes at BAR offset 0 as a little-endian u64, the nonce (the host writes it);
 *   2. writes every 8-byte word of the first page after the nonce and every word of the last page
 *      (offsets size - 4096 .. size - 8) with ferry_ivshmemcheck_pattern(nonce, offset);
 *   3. reads them back and compares.
 * After a successful run the host finds exactly that pattern at those offsets. */
#ifndef FERRY_GUESTS_IVSHMEMCHECK_H
#define FERRY_GUESTS_IVSHMEMCHECK_H

#include <stdint.h>

#define FERRY_IVSHMEMCHECK_VENDOR 0x1af4u
#define FERRY_IVSHMEMCHECK_DEVICE 0x1110u
#define FERRY_IVSHMEMCHECK_BAR 2u
#define FERRY_IVSHMEMCHECK_PAGE 4096ull
/* ferry's 64-bit window starts at 4 GiB or above (docs/memory-map.md). */
#define FERRY_IVSHMEMCHECK_WINDOW_FLOOR (1ull << 32)
#define FERRY_IVSHMEMCHECK_MULTIPLIER 0xd6e8feb86659fd93ull /* an odd 64-bit mixing constant */

/* The word at BAR offset `offset`: a different value at every offset, derived from the nonce. */
static inline uint64_t ferry_ivshmemcheck_pattern(uint64_t nonce, uint64_t offset) {
  return (nonce ^ offset) * FERRY_IVSHMEMCHECK_MULTIPLIER ^ (offset >> 3);
}

/* Exit statuses: 0 when everything passed, else the step that failed (the serial port has an
 * "ivshmem: FAIL: <reason>" line):
 *   11 no ivshmem function on bus 0, or its BAR 2 is not a 64-bit memory BAR
 *   12 BAR 2 lies below the 64-bit window or is not naturally aligned
 *   13 the words read back differ from those written */
#define FERRY_IVSHMEMCHECK_EXIT_OK 0
#define FERRY_IVSHMEMCHECK_EXIT_NO_DEVICE 11
#define FERRY_IVSHMEMCHECK_EXIT_PLACEMENT 12
#define FERRY_IVSHMEMCHECK_EXIT_MISMATCH 13

#endif

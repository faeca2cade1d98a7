/* The nvme-dma-escape guest (guests/nvme_dma_escape.c): a hostile guest that programs its
 * assigned NVMe controller to DMA outside the guest's RAM, and what it leaves on the disk, so a
 * host test can prepare the namespace and check it afterwards. Plain C, shared by the guest and
 * C++ tests.
 *
 * The guest brings the controller up as nvme-check does (guests/nvme.c), reads the nonce from
 * LBA 0 (nvmecheck.h) and then runs escape cases, one after another. Each points one DMA address
 * of a command at an address outside guest RAM: the data pointer of a Read (the device writes
 * there) or of a Write (the device reads there, and writes what it read to the disk), PRP2, an
 * entry of a PRP list, a PRP list itself, or the base of a queue. After every case it reads LBA 0
 * into guest RAM and compares the nonce (resetting and re-creating the queues first when the
 * controller stopped), so every case ends with a valid command that worked.
 *
 * Write case k writes FERRY_NVMEESCAPE_CASE_BLOCKS blocks from FERRY_NVMEESCAPE_LBA(k), so the
 * host finds there what the device fetched from outside: the host fills those blocks with
 * ferry_nvmecheck_pattern(nonce, lba, word) beforehand. The pages of a Write that do come from
 * guest RAM hold ferry_nvmeescape_guest_word(nonce, lba, word).
 *
 * The serial port gets one line per case:
 *   "nvme: escape <what> at <address>: <outcome>; LBA 0 read into RAM after it: ok"
 * and for a Write also "(LBA <first>, <pages> page(s), page <i> from outside)" before the colon;
 * <outcome> is "completed, status 0x<SCT:SC>", "no completion", or "controller fatal status
 * (CSTS.CFS)". The run ends with "nvme: escape: <n> cases done". */
#ifndef FERRY_GUESTS_NVMEESCAPE_H
#define FERRY_GUESTS_NVMEESCAPE_H

#include <stdint.h>

#include "ferry/guests/nvmecheck.h"

/* The guest's RAM as its spec gives it (memory: 64M): the first address above RAM. */
#define FERRY_NVMEESCAPE_RAM_BYTES (64ull << 20)
/* Where the Write cases write: 32 blocks (16 KiB of 512-byte blocks) each, from LBA 64. */
#define FERRY_NVMEESCAPE_FIRST_LBA 64u
#define FERRY_NVMEESCAPE_CASE_BLOCKS 32u
#define FERRY_NVMEESCAPE_LBA(k) (FERRY_NVMEESCAPE_FIRST_LBA + (k)*FERRY_NVMEESCAPE_CASE_BLOCKS)
#define FERRY_NVMEESCAPE_MAX_CASES 16u

/* A word of a page the guest writes from its own RAM. */
static inline uint64_t ferry_nvmeescape_guest_word(uint64_t nonce, uint64_t lba, uint64_t word) {
  return ~ferry_nvmecheck_pattern(nonce, lba, word);
}

#endif

/* TODO(vfio): PLACEHOLDER so the host-side NVMe test (test/vfio/nvme_data_test.cc) compiles
 * before the nvme-check guest lands. The real header comes with that guest and replaces this
 * file at merge; the definition below is NOT the guest's pattern, and no test can pass against
 * it (there is no nvme-check guest in this branch yet). */
#ifndef FERRY_GUESTS_NVMECHECK_H
#define FERRY_GUESTS_NVMECHECK_H

#include <stdint.h>

/* The 64-bit little-endian word `word` (0-63) of block `lba` (1-8) that nvme-check writes,
 * derived from the nonce it read from LBA 0. */
static inline uint64_t nvme_check_pattern(uint64_t nonce, uint64_t lba, uint64_t word) {
  return ~(nonce ^ (lba << 32) ^ word); /* TODO(vfio): placeholder */
}

#endif

/* The nvme-check guest (guests/nvme.c): what it reads and writes on an assigned NVMe controller,
 * so that a host test can prepare the disk and check it afterwards. Plain C (pure arithmetic, no
 * guest runtime), shared by the freestanding guest and C++ tests.
 *
 * The guest drives namespace FERRY_NVMECHECK_NSID of the first NVMe function (class 01:08:02) on
 * bus 0 with the namespace's own LBA size (QEMU's default is 512 bytes):
 *   1. reads LBA FERRY_NVMECHECK_NONCE_LBA and takes its first 8 bytes as a little-endian u64,
 *      the nonce (the host writes it before the run);
 *   2. writes FERRY_NVMECHECK_BLOCKS blocks from LBA FERRY_NVMECHECK_FIRST_LBA, every 8-byte
 *      little-endian word of them ferry_nvmecheck_pattern(nonce, lba, word), where `lba` is the
 *      block's LBA and `word` the word's index inside that block (0 .. block size / 8 - 1);
 *   3. flushes, reads the blocks back and compares.
 * After a successful run the host finds exactly that pattern in those blocks. */
#ifndef FERRY_GUESTS_NVMECHECK_H
#define FERRY_GUESTS_NVMECHECK_H

#include <stdint.h>

#define FERRY_NVMECHECK_SERIAL "ferrylab" /* the controller's serial number, as the lab sets it */
#define FERRY_NVMECHECK_NSID 1u
#define FERRY_NVMECHECK_NONCE_LBA 0u
#define FERRY_NVMECHECK_FIRST_LBA 1u
#define FERRY_NVMECHECK_BLOCKS 8u
#define FERRY_NVMECHECK_PATTERN_MULTIPLIER 0x9e3779b97f4a7c15ull /* 2^64 / golden ratio */

/* Word `word` of block `lba`: nonce ^ (lba << 32) ^ (word * 0x9e3779b97f4a7c15), modulo 2^64. */
static inline uint64_t ferry_nvmecheck_pattern(uint64_t nonce, uint64_t lba, uint64_t word) {
  return nonce ^ (lba << 32) ^ (word * FERRY_NVMECHECK_PATTERN_MULTIPLIER);
}

/* Exit statuses: 0 when everything passed, else the step that failed (the serial port has a
 * "nvme: FAIL: <reason>" line):
 *   11 no NVMe function on bus 0, or its BAR 0 unusable
 *   12 the command register did not keep memory decoding and bus mastering on
 *   13 CAP unusable, or the reset or enable timed out or failed (CSTS.CFS)
 *   14 Identify failed, or namespace 1 unusable (size, LBA format, metadata, MDTS)
 *   15 no usable MSI-X capability or table
 *   16 Set Features (Number of Queues), Create I/O CQ or Create I/O SQ failed
 *   17 an I/O command timed out or completed with an error status
 *   18 the blocks read back differ from those written
 *   19 an I/O completion came without its MSI-X interrupt
 *   20 the guest took a CPU exception (vector and CR2 printed) */
#define FERRY_NVMECHECK_EXIT_OK 0
#define FERRY_NVMECHECK_EXIT_NO_CONTROLLER 11
#define FERRY_NVMECHECK_EXIT_COMMAND 12
#define FERRY_NVMECHECK_EXIT_CONTROLLER 13
#define FERRY_NVMECHECK_EXIT_IDENTIFY 14
#define FERRY_NVMECHECK_EXIT_MSIX 15
#define FERRY_NVMECHECK_EXIT_QUEUES 16
#define FERRY_NVMECHECK_EXIT_IO 17
#define FERRY_NVMECHECK_EXIT_MISMATCH 18
#define FERRY_NVMECHECK_EXIT_NO_INTERRUPT 19
#define FERRY_NVMECHECK_EXIT_EXCEPTION 20

#endif

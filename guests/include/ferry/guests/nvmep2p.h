/* The nvme-p2p guest (guests/nvme_p2p.c): peer-to-peer DMA between two assigned devices (ferry's
 * vfio.p2p). Plain C, shared by the freestanding guest and the host test
 * (test/vfio/nvme_p2p_test.cc).
 *
 * The guest brings up the first NVMe function with nvme-check's driver, finds the first ivshmem
 * function (1af4:1110) and turns its memory decoding on (BAR 2 stays where ferry placed it), and
 * never touches BAR 2 itself. Then, with `blocks` = 4096 / the namespace's block size:
 *   1. Read of `blocks` blocks from LBA FERRY_NVMEP2P_READ_LBA with PRP1 = BAR 2's address: the
 *      NVMe writes them into the ivshmem's memory at offset 0;
 *   2. Write of `blocks` blocks to LBA FERRY_NVMEP2P_WRITE_LBA with PRP1 = BAR 2's address +
 *      FERRY_NVMEP2P_WRITE_OFFSET: the NVMe reads them from the ivshmem's memory; then a Flush.
 * The host prepares both sources and checks both destinations. */
#ifndef FERRY_GUESTS_NVMEP2P_H
#define FERRY_GUESTS_NVMEP2P_H

#define FERRY_NVMEP2P_READ_LBA 64u
#define FERRY_NVMEP2P_WRITE_LBA 128u
#define FERRY_NVMEP2P_BYTES 4096u
#define FERRY_NVMEP2P_WRITE_OFFSET 4096u /* in the ivshmem BAR, where the Write takes its data */

/* Exit statuses: nvmecheck.h's for the NVMe driver's steps, and: */
#define FERRY_NVMEP2P_EXIT_NO_IVSHMEM 21 /* no ivshmem, or its BAR 2 is no placed memory BAR */

#endif

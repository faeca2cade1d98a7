/* The ferry test device: the contract between the VMM and the project's test guests.
 * Plain C so that freestanding guests and the C++ VMM share one definition. */
#ifndef FERRY_GUESTS_TESTDEV_H
#define FERRY_GUESTS_TESTDEV_H

/* One-byte write: the VM ends and `ferry run` exits with the byte as its status. */
#define FERRY_EXIT_PORT 0xf4

/* A 4 KiB MMIO register block. */
#define FERRY_TESTDEV_BASE 0xfeb00000u
#define FERRY_TESTDEV_SIZE 0x1000u
#define FERRY_TESTDEV_ID 0x000          /* RO 32: FERRY_TESTDEV_MAGIC */
#define FERRY_TESTDEV_VERSION 0x004     /* RO 32: 1 */
#define FERRY_TESTDEV_ACCESSES 0x008    /* RO 32: accesses to the block so far, this one excluded */
#define FERRY_TESTDEV_MSI_ADDR_LO 0x020 /* RW 32 */
#define FERRY_TESTDEV_MSI_ADDR_HI 0x024 /* RW 32 */
#define FERRY_TESTDEV_MSI_DATA 0x028    /* RW 32 */
#define FERRY_TESTDEV_MSI_DOORBELL 0x02c /* WO: sends the programmed MSI through an irqfd */
#define FERRY_TESTDEV_MSI_SENT 0x030     /* RO 32: MSIs sent */
#define FERRY_TESTDEV_SCRATCH 0x100      /* RW: 256 bytes of memory-like scratch, any width */
#define FERRY_TESTDEV_SCRATCH_SIZE 0x100

#define FERRY_TESTDEV_MAGIC 0x59525246u /* "FRRY" */

#endif

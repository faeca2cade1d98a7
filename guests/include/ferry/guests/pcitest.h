/* ferry's guest PCI platform and its PCI test device: the contract between lib/pci, lib/vmm and
 * the project's test guests (docs/pci-bus.md). Plain C, shared by freestanding guests and C++. */
#ifndef FERRY_GUESTS_PCITEST_H
#define FERRY_GUESTS_PCITEST_H

/* Configuration mechanism #1 and ECAM (bus 0 is the only bus with functions on it). */
#define FERRY_PCI_CONFIG_ADDRESS 0xcf8u
#define FERRY_PCI_CONFIG_DATA 0xcfcu
#define FERRY_PCI_ECAM_BASE 0xe0000000u

/* The host bridge's windows below 4 GiB. The 64-bit window starts at 4 GiB or at the first GiB
 * boundary above RAM, whichever is higher, and ends where the guest's physical addresses end. */
#define FERRY_PCI_MMIO32_BASE 0xc0000000u
#define FERRY_PCI_MMIO32_SIZE 0x20000000u
#define FERRY_PCI_IO_BASE 0xc000u
#define FERRY_PCI_IO_SIZE 0x4000u

/* IDs. 0x1234 is not registered to ferry: it is the vendor ID emulators customarily give their
 * own devices. The host bridge is 00:00.0. */
#define FERRY_PCI_VENDOR_ID 0x1234u
#define FERRY_PCI_BRIDGE_DEVICE_ID 0xfe00u
#define FERRY_PCI_TEST_DEVICE_ID 0xfe01u
#define FERRY_PCI_TEST_CLASS 0xff0000u /* "does not fit a defined class" */
#define FERRY_PCI_TEST_REVISION 1u

/* The test device's BARs. */
#define FERRY_PCITEST_REGS_BAR 0 /* 32-bit memory: the registers below */
#define FERRY_PCITEST_REGS_SIZE 0x1000u
#define FERRY_PCITEST_IO_BAR 1 /* I/O: the same registers through ports */
#define FERRY_PCITEST_IO_SIZE 0x20u
#define FERRY_PCITEST_MSIX_BAR 2 /* 64-bit memory (BARs 2 and 3): MSI-X table and PBA */
#define FERRY_PCITEST_MSIX_SIZE 0x4000u
#define FERRY_PCITEST_MSIX_TABLE 0x0000u
#define FERRY_PCITEST_MSIX_PBA 0x2000u
#define FERRY_PCITEST_VECTORS 8u
#define FERRY_PCITEST_ROM_SIZE 0x800u /* starts 0x55 0xaa, then "ferry pci-test" */

/* Registers: 32-bit, dword-aligned accesses only (others read all ones and are dropped).
 * DOORBELL raises MSI-X vector N; while N is masked its PBA bit is set instead and the message
 * goes out on unmask. DROPPED counts doorbells that sent nothing and left nothing pending:
 * vector out of range, MSI-X disabled, or bus mastering off. */
#define FERRY_PCITEST_ID 0x00       /* RO: FERRY_PCITEST_MAGIC */
#define FERRY_PCITEST_DOORBELL 0x04 /* WO: the vector to raise */
#define FERRY_PCITEST_SENT 0x08     /* RO: MSI-X messages sent */
#define FERRY_PCITEST_DROPPED 0x0c  /* RO */
#define FERRY_PCITEST_SCRATCH 0x10  /* RW */

#define FERRY_PCITEST_MAGIC 0x49435046u /* "FPCI" */

#endif

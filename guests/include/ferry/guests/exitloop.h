/* The exitloop guest's parameters (guests/exitloop.S): a 64 KiB real-mode image loaded at
 * 0xf0000 (ferry) or given as -bios (QEMU). Benchmarks and tests patch the two counts. */
#ifndef FERRY_GUESTS_EXITLOOP_H
#define FERRY_GUESTS_EXITLOOP_H

#define FERRY_EXITLOOP_SIZE 0x10000
#define FERRY_EXITLOOP_LOAD_ADDRESS 0xf0000
#define FERRY_EXITLOOP_PIO_COUNT_OFFSET 0xffe0  /* u32: writes to port 0x80 */
#define FERRY_EXITLOOP_MMIO_COUNT_OFFSET 0xffe4 /* u32: byte reads from 0xfe000000 */
#define FERRY_EXITLOOP_PIO_PORT 0x80
#define FERRY_EXITLOOP_MMIO_ADDRESS 0xfe000000u
#define FERRY_EXITLOOP_MARKER '!' /* its first instruction writes this to COM1 */

#endif

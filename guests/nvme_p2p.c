/* nvme-p2p: peer-to-peer DMA between two assigned devices. It drives its assigned NVMe with
 * nvme-check's driver (guests/nvme.c, included for its driver part) and points the NVMe's data
 * pointers at the BAR 2 of an assigned ivshmem, so the NVMe reads and writes the ivshmem's
 * memory directly: that DMA reaches it only when ferry maps the BAR into the IOMMU (vfio.p2p).
 * The guest never touches BAR 2 itself. The contract with the host test is
 * ferry/guests/nvmep2p.h. */
#define FERRY_NVME_DRIVER_ONLY
#include "nvme.c"

#include "ferry/guests/ivshmemcheck.h"
#include "ferry/guests/nvmep2p.h"

/* The one place that finds the peer: the first ivshmem (bus 0 or below a root port), its BAR 2
 * (64-bit memory, as ferry placed it), memory decoding turned on. Returns BAR 2's address. */
static int is_ivshmem(uint32_t device) {
  return mmio_read32(pci_device_reg(device, 0)) ==
         (FERRY_IVSHMEMCHECK_DEVICE << 16 | FERRY_IVSHMEMCHECK_VENDOR);
}
static uint64_t find_ivshmem_bar2(void) {
  const uint32_t device = pci_find_device(is_ivshmem);
  if (device == PCI_NO_DEVICE) {
    fail(FERRY_NVMEP2P_EXIT_NO_IVSHMEM, "no ivshmem (1af4:1110) on bus 0 or below a root port");
  }
  const uint32_t low = mmio_read32(pci_device_reg(device, 0x10 + 4 * FERRY_IVSHMEMCHECK_BAR));
  const uint32_t high = mmio_read32(pci_device_reg(device, 0x14 + 4 * FERRY_IVSHMEMCHECK_BAR));
  const uint64_t address = (uint64_t)high << 32 | (low & ~0xfu);
  if ((low & 1) || ((low >> 1) & 3) != 2 || address == 0) {
    fail(FERRY_NVMEP2P_EXIT_NO_IVSHMEM, "the ivshmem's BAR 2 is not a placed 64-bit memory BAR");
  }
  const uintptr_t command = pci_device_reg(device, PCI_COMMAND);
  mmio_write16(command, (uint16_t)(mmio_read16(command) | CMD_MEMORY));
  say("ivshmem at ");
  put_pci_device(device);
  puts_serial(", BAR2 ");
  put_hex64(address);
  end_line();
  return address;
}

int guest_main(uint32_t index, uint32_t count) {
  (void)count;
  bring_up_driver(index);
  const uint64_t bar2 = find_ivshmem_bar2();
  const uint32_t blocks = FERRY_NVMEP2P_BYTES / block_size_;
  /* One page each way: PRP1 alone, no list (the list pointer is unused for one page). */
  rw_command(NVM_READ, FERRY_NVMEP2P_READ_LBA, blocks, (void*)(uintptr_t)bar2, in_prp_list,
             "Read into the ivshmem BAR");
  say("read LBA into the ivshmem BAR\n");
  rw_command(NVM_WRITE, FERRY_NVMEP2P_WRITE_LBA, blocks,
             (void*)(uintptr_t)(bar2 + FERRY_NVMEP2P_WRITE_OFFSET), out_prp_list,
             "Write from the ivshmem BAR");
  flush_namespace();
  say("wrote LBA from the ivshmem BAR and flushed\n");
  /* The same blocks read into RAM, the first word of each printed: what the disk holds. */
  zero_in_buffer();
  rw_command(NVM_READ, FERRY_NVMEP2P_READ_LBA, blocks, in_buffer, in_prp_list, "Read into RAM");
  rw_command(NVM_READ, FERRY_NVMEP2P_WRITE_LBA, blocks, out_buffer, out_prp_list,
             "Read back into RAM");
  barrier();
  say("first words in RAM: read LBA ");
  put_hex64(((volatile uint64_t*)in_buffer)[0]);
  puts_serial(", written LBA ");
  put_hex64(((volatile uint64_t*)out_buffer)[0]);
  end_line();
  say("p2p ok\n");
  return FERRY_NVMECHECK_EXIT_OK;
}

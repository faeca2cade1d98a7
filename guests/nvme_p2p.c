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

/* The one place that finds the peer: the first ivshmem on bus 0, its BAR 2 (64-bit memory, as
 * ferry placed it), memory decoding turned on. Returns BAR 2's address. */
static uint64_t find_ivshmem_bar2(void) {
  const uint32_t id = FERRY_IVSHMEMCHECK_DEVICE << 16 | FERRY_IVSHMEMCHECK_VENDOR;
  for (uint32_t slot = 0; slot < 32; ++slot) {
    const uintptr_t config = FERRY_PCI_ECAM_BASE + (slot << 15);
    if (mmio_read32(config) != id) continue;
    const uint32_t low = mmio_read32(config + 0x10 + 4 * FERRY_IVSHMEMCHECK_BAR);
    const uint32_t high = mmio_read32(config + 0x14 + 4 * FERRY_IVSHMEMCHECK_BAR);
    const uint64_t address = (uint64_t)high << 32 | (low & ~0xfu);
    if ((low & 1) || ((low >> 1) & 3) != 2 || address == 0) break;
    mmio_write16(config + PCI_COMMAND, (uint16_t)(mmio_read16(config + PCI_COMMAND) | CMD_MEMORY));
    say("ivshmem at 00:");
    put_hex_digits(slot, 2);
    puts_serial(".0, BAR2 ");
    put_hex64(address);
    end_line();
    return address;
  }
  fail(FERRY_NVMEP2P_EXIT_NO_IVSHMEM, "no ivshmem (1af4:1110) with a placed 64-bit BAR 2 on bus 0");
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
  uint32_t command[SQE_DWORDS];
  clear_command(command);
  command[0] = NVM_FLUSH;
  command[1] = FERRY_NVMECHECK_NSID;
  io_command(command, "Flush");
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

/* Uncached identity mappings of device registers, for 64-bit guests. ferry's boot tables map
 * [0, 4 GiB) with 2 MiB pages, write-back, and RAM above; a 64-bit BAR usually lies above both.
 * map_uncached() maps the 2 MiB pages of a register range uncached (PCD, PWT), adding tables as
 * needed, and rewrites the boot mapping when the range is below 4 GiB: device registers must not
 * be cached whatever memory type the hypervisor lets the guest pick. */
#ifndef FERRY_UNCACHED_MAP_H
#define FERRY_UNCACHED_MAP_H

#include "rt/guest.h"

#define PTE_PRESENT 0x1ull
#define PTE_WRITABLE 0x2ull
#define PTE_PWT 0x8ull
#define PTE_PCD 0x10ull
#define PTE_HUGE 0x80ull
#define PTE_ADDRESS 0x000ffffffffff000ull
#define TWO_MIB (1ull << 21)

static uint64_t spare_tables[6][512] __attribute__((aligned(4096)));
static unsigned spare_tables_used;

/* The table `entry` points to, added when absent; 0 with *why set when there is none to add or
 * the entry is a huge page (`huge` says which). */
static uint64_t* table_below(uint64_t* entry, const char* huge, const char** why) {
  if (!(*entry & PTE_PRESENT)) {
    if (spare_tables_used == sizeof spare_tables / sizeof spare_tables[0]) {
      *why = "out of page tables to map the BARs";
      return 0;
    }
    uint64_t* table = spare_tables[spare_tables_used++];
    for (int i = 0; i < 512; ++i) table[i] = 0;
    *entry = (uint64_t)table | PTE_PRESENT | PTE_WRITABLE;
  }
  if (*entry & PTE_HUGE) {
    *why = huge;
    return 0;
  }
  return (uint64_t*)(*entry & PTE_ADDRESS);
}

/* Maps [address, address + length) uncached; 0, or why it could not (the guest fails with it). */
static UNUSED const char* map_uncached(uint64_t address, uint64_t length) {
  if (address + length > (1ull << 48) || address + length < address) {
    return "a BAR range is beyond 48-bit addresses";
  }
  const char* why = 0;
  uint64_t cr3;
  __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
  uint64_t* pml4 = (uint64_t*)(cr3 & PTE_ADDRESS);
  for (uint64_t page = address & ~(TWO_MIB - 1); page < address + length; page += TWO_MIB) {
    uint64_t* pdpt =
        table_below(&pml4[(page >> 39) & 511],
                    "a BAR lies in a huge page of the boot tables (RAM?) at the PML4", &why);
    if (pdpt == 0) return why;
    uint64_t* pd = table_below(
        &pdpt[(page >> 30) & 511],
        "a BAR lies in a huge page of the boot tables (RAM?) at the PDPT (1 GiB page)", &why);
    if (pd == 0) return why;
    pd[(page >> 21) & 511] = page | PTE_PRESENT | PTE_WRITABLE | PTE_PWT | PTE_PCD | PTE_HUGE;
  }
  __asm__ volatile("mov %0, %%cr3" ::"r"(cr3) : "memory");
  return 0;
}

#endif

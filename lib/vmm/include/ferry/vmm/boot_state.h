// How ferry starts a payload's vCPUs (docs/boot.md): the GDT and identity page tables it
// writes into low guest memory, and each vCPU's registers for real, protected or long mode.
#pragma once

#include <cstdint>

#include "ferry/accel/vcpu.h"
#include "ferry/base/error.h"
#include "ferry/vmm/guest_memory.h"
#include "ferry/vmm/payload.h"

namespace ferry::vmm {

constexpr uint64_t kBootGdtAddress = 0x1000;
constexpr uint64_t kBootPml4Address = 0x2000;
constexpr uint64_t kBootPdptAddress = 0x3000;
constexpr uint64_t kBootPdAddress = 0x4000;  // four page directories: [0, 4 GiB) in 2 MiB pages
constexpr uint64_t kBootTablesBegin = kBootGdtAddress;
constexpr uint64_t kBootTablesEnd = 0x8000;

constexpr uint16_t kCode64Selector = 0x08;
constexpr uint16_t kCode32Selector = 0x10;
constexpr uint16_t kDataSelector = 0x18;
constexpr uint16_t kTssSelector = 0x20;
// Linux's boot protocol wants __BOOT_CS = 0x10 and __BOOT_DS = 0x18: its GDT has 0x10 as 64-bit
// code, 0x18 as data and the TSS at 0x20, as Linux's decompressor GDT has them (0x08 empty).
constexpr uint16_t kLinuxCodeSelector = 0x10;
constexpr uint16_t kLinuxDataSelector = 0x18;

// Whose selectors the GDT follows: ferry's payloads (above) or Linux's.
enum class GdtLayout : uint8_t { kFerry, kLinux };

/// Writes the GDT (protected, long) and the identity page tables (long): [0, 4 GiB) with 2 MiB
/// pages, and RAM above 4 GiB with 1 GiB pages when the vCPU has them (gib_pages).
Expected<void> write_boot_tables(const GuestMemory& memory, BootMode mode, bool gib_pages,
                                 GdtLayout layout = GdtLayout::kFerry);

/// Puts vCPU `index` of `count` at `entry` in `mode`: rdi = index, rsi = count, interrupts off.
Expected<void> set_entry_state(accel::Vcpu& vcpu, BootMode mode, uint64_t entry, unsigned index,
                               unsigned count);

/// Puts the boot vCPU at a Linux kernel's 64-bit entry: long mode with the Linux GDT, rsi =
/// boot_params, a small stack, interrupts off (docs/boot.md). The other vCPUs wait for SIPI.
Expected<void> set_linux_entry_state(accel::Vcpu& vcpu, uint64_t entry, uint64_t boot_params,
                                     uint64_t stack_top);

}  // namespace ferry::vmm

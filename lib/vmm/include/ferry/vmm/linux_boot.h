// Booting a Linux bzImage at its 64-bit entry (docs/boot.md, "Linux (bzImage)"): the setup
// header's checks, where the kernel, initrd, boot_params and command line go, and the e820 map.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/vmm/payload.h"

namespace ferry::vmm {

// Low pages ferry writes for Linux, right after the boot tables (boot_state.h).
constexpr uint64_t kLinuxBootParamsAddress = 0x8000;  // the 4 KiB "zero page"
constexpr uint64_t kLinuxCmdlineAddress = 0x9000;     // NUL-terminated, up to 4 KiB
constexpr uint64_t kLinuxStackTop = 0xb000;  // rsp: the page below, until Linux has its own
constexpr uint64_t kLinuxLowPagesEnd = kLinuxStackTop;
constexpr uint64_t kLinuxCmdlineMax = 4095;    // bytes, without the NUL
constexpr uint64_t kLinuxEntryOffset = 0x200;  // the 64-bit entry, from the kernel's load address

constexpr uint16_t kLinuxMinProtocol =
    0x020c;  // 2.12: xloadflags says whether a 64-bit entry exists

// One e820 entry as boot_params carries it.
struct E820Entry {
  uint64_t addr = 0;
  uint64_t size = 0;
  uint32_t type = 0;  // kE820Ram or kE820Reserved
  bool operator==(const E820Entry&) const = default;
};
constexpr uint32_t kE820Ram = 1;
constexpr uint32_t kE820Reserved = 2;

/// The guest's memory map for Linux: RAM of a `memory_size` guest, with ferry's boot pages and
/// the ACPI window reserved, in address order.
std::vector<E820Entry> linux_e820_map(uint64_t memory_size);

// What the bzImage's setup header says, the fields ferry acts on.
struct BzImageHeader {
  uint8_t setup_sects = 0;  // 0 read as 4
  uint16_t version = 0;
  uint8_t loadflags = 0;
  uint32_t initrd_addr_max = 0;
  uint32_t kernel_alignment = 0;
  bool relocatable = false;
  uint16_t xloadflags = 0;
  uint32_t cmdline_size = 0;
  uint64_t pref_address = 0;
  uint32_t init_size = 0;
  uint64_t setup_size = 0;  // (setup_sects + 1) * 512: where the protected-mode kernel starts
  uint64_t header_end = 0;  // one past the header's last byte (0x202 + the jump at 0x201)
};

/// Reads and checks the setup header: boot flag, "HdrS", protocol 2.12 or later, a 64-bit entry.
Expected<BzImageHeader> parse_bzimage_header(std::span<const uint8_t> image);

// Which part of a Linux payload an error is about, so the spec error names its key.
enum class LinuxPart : uint8_t { kKernel, kInitrd, kCmdline };

struct LinuxBootInputs {
  std::span<const uint8_t> kernel;  // the bzImage file
  std::span<const uint8_t> initrd;  // empty: none
  std::string_view cmdline;
};

/// Lays out the kernel at its preferred address (reserving init_size for decompression), the
/// initrd at the top of low RAM below initrd_addr_max, the command line, and boot_params with
/// the header, the initrd, the command line and the e820 map. `blame` (when not null) is set to
/// the part an error is about.
Expected<PayloadPlan> plan_bzimage(const LinuxBootInputs& inputs, uint64_t memory_size,
                                   LinuxPart* blame = nullptr);

}  // namespace ferry::vmm

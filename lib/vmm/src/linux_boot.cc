#include "ferry/vmm/linux_boot.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "ferry/base/checked.h"
#include "ferry/base/units.h"
#include "ferry/vmm/boot_state.h"
#include "ferry/vmm/memory_layout.h"

namespace ferry::vmm {
namespace {

// Offsets in the bzImage's first sector and in boot_params, which starts with the same layout
// (Linux's Documentation/arch/x86/boot.rst and zero-page.rst).
constexpr size_t kSetupSects = 0x1f1;
constexpr size_t kHeaderStart = 0x1f1;  // what boot_params takes from the image
constexpr size_t kBootFlag = 0x1fe;
constexpr size_t kJump = 0x200;  // a short jmp; its offset byte ends the header
constexpr size_t kHeaderMagic = 0x202;
constexpr size_t kVersion = 0x206;
constexpr size_t kTypeOfLoader = 0x210;
constexpr size_t kLoadflags = 0x211;
constexpr size_t kRamdiskImage = 0x218;
constexpr size_t kRamdiskSize = 0x21c;
constexpr size_t kCmdLinePtr = 0x228;
constexpr size_t kInitrdAddrMax = 0x22c;
constexpr size_t kKernelAlignment = 0x230;
constexpr size_t kRelocatableKernel = 0x234;
constexpr size_t kXloadflags = 0x236;
constexpr size_t kCmdlineSize = 0x238;
constexpr size_t kPrefAddress = 0x258;
constexpr size_t kInitSize = 0x260;
constexpr size_t kHeaderMinEnd = 0x264;  // everything ferry reads, present from protocol 2.10

constexpr size_t kExtRamdiskImage = 0x0c0;
constexpr size_t kExtRamdiskSize = 0x0c4;
constexpr size_t kExtCmdLinePtr = 0x0c8;
constexpr size_t kE820Count = 0x1e8;
constexpr size_t kE820Table = 0x2d0;
constexpr size_t kE820MaxEntries = 128;
constexpr size_t kE820EntrySize = 20;

constexpr uint16_t kBootFlagValue = 0xaa55;
constexpr uint32_t kHeaderMagicValue = 0x53726448;  // "HdrS"
constexpr uint16_t kXlfKernel64 = 1 << 0;
constexpr uint8_t kTypeOfLoaderUndefined = 0xff;  // a loader without an assigned ID
constexpr uint64_t kDefaultCmdlineSize = 2048;
constexpr uint64_t kDefaultKernelAlignment = 16 * kMiB;

template <typename T>
T read_le(std::span<const uint8_t> bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

template <typename T>
void write_le(std::vector<uint8_t>& bytes, size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}

bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// The end of the RAM range that holds [gpa, gpa + length), or 0 when none does.
uint64_t ram_range_end(uint64_t memory_size, uint64_t gpa, uint64_t length) {
  for (const RamRange& r : ram_ranges(memory_size)) {
    if (gpa >= r.gpa && range_fits(gpa - r.gpa, length, r.size)) return r.gpa + r.size;
  }
  return 0;
}

uint64_t low_ram_end(uint64_t memory_size) { return std::min(memory_size, kLowRamLimit); }

Error blamed(LinuxPart part, LinuxPart* blame, Error error) {
  if (blame != nullptr) *blame = part;
  return error;
}

std::vector<uint8_t> make_boot_params(std::span<const uint8_t> kernel, const BzImageHeader& header,
                                      uint64_t initrd_gpa, uint64_t initrd_size,
                                      uint64_t memory_size) {
  std::vector<uint8_t> params(kPageSize, 0);
  std::memcpy(params.data() + kHeaderStart, kernel.data() + kHeaderStart,
              header.header_end - kHeaderStart);
  params[kTypeOfLoader] = kTypeOfLoaderUndefined;
  write_le<uint32_t>(params, kCmdLinePtr, static_cast<uint32_t>(kLinuxCmdlineAddress));
  write_le<uint32_t>(params, kExtCmdLinePtr, static_cast<uint32_t>(kLinuxCmdlineAddress >> 32));
  write_le<uint32_t>(params, kRamdiskImage, static_cast<uint32_t>(initrd_gpa));
  write_le<uint32_t>(params, kRamdiskSize, static_cast<uint32_t>(initrd_size));
  write_le<uint32_t>(params, kExtRamdiskImage, static_cast<uint32_t>(initrd_gpa >> 32));
  write_le<uint32_t>(params, kExtRamdiskSize, static_cast<uint32_t>(initrd_size >> 32));
  const std::vector<E820Entry> map = linux_e820_map(memory_size);
  // A handful of entries by construction; the table in boot_params holds 128.
  if (map.size() > kE820MaxEntries) std::abort();
  params[kE820Count] = static_cast<uint8_t>(map.size());
  for (size_t i = 0; i < map.size(); ++i) {
    const size_t at = kE820Table + i * kE820EntrySize;
    write_le<uint64_t>(params, at, map[i].addr);
    write_le<uint64_t>(params, at + 8, map[i].size);
    write_le<uint32_t>(params, at + 16, map[i].type);
  }
  return params;
}

}  // namespace

std::vector<E820Entry> linux_e820_map(uint64_t memory_size) {
  // ferry's GDT, page tables, boot_params, command line and first stack; the ACPI window; and
  // the ECAM ACPI describes, which Linux uses from early boot only if e820 reserves it.
  const std::vector<E820Entry> reserved = {
      {.addr = kBootTablesBegin,
       .size = kLinuxLowPagesEnd - kBootTablesBegin,
       .type = kE820Reserved},
      {.addr = kAcpiTablesBase, .size = kAcpiTablesSize, .type = kE820Reserved},
      {.addr = kPciEcamBase, .size = kPciEcamReservedSize, .type = kE820Reserved}};
  std::vector<E820Entry> map = reserved;
  for (const RamRange& r : ram_ranges(memory_size)) {
    uint64_t begin = r.gpa;
    const uint64_t end = r.gpa + r.size;
    // Ranges are disjoint and in order, so one pass cuts each RAM range around them.
    for (const E820Entry& hole : reserved) {
      if (hole.addr >= end || hole.addr + hole.size <= begin) continue;
      if (hole.addr > begin)
        map.push_back({.addr = begin, .size = hole.addr - begin, .type = kE820Ram});
      begin = std::max(begin, hole.addr + hole.size);
    }
    if (begin < end) map.push_back({.addr = begin, .size = end - begin, .type = kE820Ram});
  }
  std::sort(map.begin(), map.end(),
            [](const E820Entry& a, const E820Entry& b) { return a.addr < b.addr; });
  return map;
}

Expected<BzImageHeader> parse_bzimage_header(std::span<const uint8_t> image) {
  if (image.size() < kHeaderMinEnd || read_le<uint16_t>(image, kBootFlag) != kBootFlagValue ||
      read_le<uint32_t>(image, kHeaderMagic) != kHeaderMagicValue) {
    return fail(Errc::kInvalidArgument,
                "not a Linux bzImage: {}; give the kernel's arch/x86/boot/bzImage (not vmlinux "
                "or a compressed vmlinuz of another architecture)",
                image.size() < kHeaderMinEnd ? fmt::format("{} bytes is too short for a setup "
                                                           "header",
                                                           image.size())
                                             : std::string("no boot flag 0xaa55 at 0x1fe and "
                                                           "\"HdrS\" at 0x202"));
  }
  BzImageHeader h;
  h.version = read_le<uint16_t>(image, kVersion);
  if (h.version < kLinuxMinProtocol) {
    return fail(Errc::kInvalidArgument,
                "boot protocol {}.{} is older than 2.12, which says whether the kernel has a "
                "64-bit entry; ferry starts Linux only there: use a kernel from 3.8 or later",
                h.version >> 8, h.version & 0xff);
  }
  h.xloadflags = read_le<uint16_t>(image, kXloadflags);
  if ((h.xloadflags & kXlfKernel64) == 0) {
    return fail(Errc::kInvalidArgument,
                "the kernel has no 64-bit entry (xloadflags {:#x} lacks XLF_KERNEL_64); ferry "
                "starts Linux in long mode: build an x86_64 kernel",
                h.xloadflags);
  }
  h.setup_sects = image[kSetupSects];
  h.setup_size = (uint64_t{h.setup_sects == 0 ? uint8_t{4} : h.setup_sects} + 1) * 512;
  h.header_end = kHeaderMagic + image[kJump + 1];
  if (h.header_end < kHeaderMinEnd || h.header_end > kE820Table || h.setup_size >= image.size()) {
    return fail(Errc::kInvalidArgument,
                "the setup header is damaged: it ends at {:#x} and the kernel starts at {:#x} of "
                "a {}-byte file; rebuild the bzImage",
                h.header_end, h.setup_size, image.size());
  }
  h.loadflags = image[kLoadflags];
  h.initrd_addr_max = read_le<uint32_t>(image, kInitrdAddrMax);
  h.kernel_alignment = read_le<uint32_t>(image, kKernelAlignment);
  h.relocatable = image[kRelocatableKernel] != 0;
  h.cmdline_size = read_le<uint32_t>(image, kCmdlineSize);
  h.pref_address = read_le<uint64_t>(image, kPrefAddress);
  h.init_size = read_le<uint32_t>(image, kInitSize);
  return h;
}

Expected<PayloadPlan> plan_bzimage(const LinuxBootInputs& in, uint64_t memory_size,
                                   LinuxPart* blame) {
  using enum LinuxPart;
  auto header = parse_bzimage_header(in.kernel);
  if (!header) return fail(blamed(kKernel, blame, header.error()));
  const BzImageHeader& h = *header;
  const std::span<const uint8_t> code = in.kernel.subspan(h.setup_size);
  const uint64_t reserve = std::max<uint64_t>(h.init_size, code.size());

  uint64_t load = h.pref_address;
  if (h.relocatable) {
    const uint64_t alignment =
        is_power_of_two(h.kernel_alignment) ? h.kernel_alignment : kDefaultKernelAlignment;
    load = align_up(std::max(h.pref_address, kMiB), alignment);
  }
  if (ram_range_end(memory_size, load, reserve) == 0) {
    const uint64_t needed = align_up(load + reserve, kMiB);
    if (!h.relocatable && ram_range_end(memory_size, load, 1) == 0) {
      return fail(blamed(kKernel, blame,
                         Error(Errc::kInvalidArgument,
                               fmt::format("the kernel is not relocatable and must load at its "
                                           "pref_address {:#x}, which is not in guest RAM ({}); "
                                           "build it with CONFIG_RELOCATABLE or raise memory.size",
                                           load, format_size(memory_size)))));
    }
    return fail(blamed(
        kKernel, blame,
        Error(Errc::kInvalidArgument,
              fmt::format("the kernel decompresses in place over init_size {} from {:#x}, up to "
                          "{:#x}, past the guest's low RAM ({} of memory); raise memory.size to "
                          "at least {}",
                          format_size(reserve), load, load + reserve, format_size(memory_size),
                          format_size(needed)))));
  }
  const uint64_t kernel_end = load + reserve;

  const uint64_t cmdline_max =
      std::min<uint64_t>(h.cmdline_size ? h.cmdline_size : kDefaultCmdlineSize, kLinuxCmdlineMax);
  if (in.cmdline.size() > cmdline_max) {
    return fail(blamed(kCmdline, blame,
                       Error(Errc::kInvalidArgument,
                             fmt::format("is {} bytes; this kernel takes at most {} (cmdline_size "
                                         "{} in its header); shorten it",
                                         in.cmdline.size(), cmdline_max, h.cmdline_size))));
  }

  uint64_t initrd_gpa = 0;
  if (!in.initrd.empty()) {
    // The top of low RAM, below what the kernel can reach; page aligned.
    const uint64_t limit = std::min(uint64_t{h.initrd_addr_max} + 1, low_ram_end(memory_size));
    const uint64_t size = in.initrd.size();
    if (size > limit || (limit - size) / kPageSize * kPageSize < kernel_end) {
      return fail(blamed(
          kInitrd, blame,
          Error(Errc::kInvalidArgument,
                fmt::format("a {} initrd does not fit between the kernel's end {:#x} and {:#x} "
                            "(the lower of initrd_addr_max {:#x} and the end of low RAM); raise "
                            "memory.size or use a smaller initrd",
                            format_size(size), kernel_end, limit, h.initrd_addr_max))));
    }
    initrd_gpa = (limit - size) / kPageSize * kPageSize;
  }

  PayloadPlan plan{
      .pieces = {}, .loaded = {load + kLinuxEntryOffset, load, kernel_end}, .storage = {}};
  auto params = std::make_shared<const std::vector<uint8_t>>(
      make_boot_params(in.kernel, h, initrd_gpa, in.initrd.size(), memory_size));
  std::vector<uint8_t> cmdline_bytes(in.cmdline.begin(), in.cmdline.end());
  cmdline_bytes.push_back(0);
  auto cmdline = std::make_shared<const std::vector<uint8_t>>(std::move(cmdline_bytes));
  plan.pieces.push_back({.gpa = load, .bytes = code, .size = code.size()});
  if (!in.initrd.empty()) {
    plan.pieces.push_back({.gpa = initrd_gpa, .bytes = in.initrd, .size = in.initrd.size()});
  }
  plan.pieces.push_back({.gpa = kLinuxBootParamsAddress, .bytes = *params, .size = params->size()});
  plan.pieces.push_back({.gpa = kLinuxCmdlineAddress, .bytes = *cmdline, .size = cmdline->size()});
  plan.storage = {params, cmdline};
  return plan;
}

}  // namespace ferry::vmm

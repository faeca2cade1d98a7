#include <elf.h>

#include <algorithm>
#include <cstring>

#include "ferry/base/checked.h"
#include "ferry/vmm/payload.h"

namespace ferry::vmm {

std::string_view boot_mode_name(BootMode mode) {
  switch (mode) {
    case BootMode::kReal:
      return "real";
    case BootMode::kProtected:
      return "protected";
    case BootMode::kLong:
      return "long";
  }
  return "unknown";
}

std::optional<BootMode> parse_boot_mode(std::string_view name) {
  if (name == "real") return BootMode::kReal;
  if (name == "protected") return BootMode::kProtected;
  if (name == "long") return BootMode::kLong;
  return std::nullopt;
}

bool looks_like_elf(std::span<const uint8_t> image) {
  return image.size() >= SELFMAG && std::memcmp(image.data(), ELFMAG, SELFMAG) == 0;
}

Expected<LoadedPayload> load_flat(const GuestMemory& memory, std::span<const uint8_t> image,
                                  uint64_t address, std::optional<uint64_t> entry) {
  if (image.empty()) return fail(Errc::kInvalidArgument, "the flat image is empty");
  if (auto written = memory.write(address, image); !written) {
    return fail(written.error().context(
        fmt::format("a {}-byte flat image at load_address {:#x}", image.size(), address)));
  }
  LoadedPayload loaded{entry.value_or(address), address, address + image.size()};
  if (loaded.entry < loaded.begin || loaded.entry >= loaded.end) {
    return fail(Errc::kInvalidArgument, "entry {:#x} is outside the loaded image {:#x}-{:#x}",
                loaded.entry, loaded.begin, loaded.end);
  }
  return loaded;
}

Expected<LoadedPayload> load_elf64(const GuestMemory& memory, std::span<const uint8_t> image) {
  if (image.size() < sizeof(Elf64_Ehdr) || !looks_like_elf(image)) {
    return fail(Errc::kInvalidArgument, "not an ELF file (too short or no ELF magic)");
  }
  Elf64_Ehdr header;
  std::memcpy(&header, image.data(), sizeof header);
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB) {
    return fail(Errc::kInvalidArgument,
                "not a 64-bit little-endian ELF; ferry loads ELF64 only "
                "(use format: flat for other images)");
  }
  if (header.e_machine != EM_X86_64) {
    return fail(Errc::kInvalidArgument, "ELF machine is {}, not x86-64 ({})", header.e_machine,
                EM_X86_64);
  }
  if (header.e_type != ET_EXEC) {
    return fail(Errc::kInvalidArgument, "ELF type is {}; ferry loads executables (ET_EXEC) only",
                header.e_type);
  }
  if (header.e_phentsize != sizeof(Elf64_Phdr)) {
    return fail(Errc::kInvalidArgument, "ELF program header size is {}, expected {}",
                header.e_phentsize, sizeof(Elf64_Phdr));
  }
  auto table_size = checked_mul(header.e_phnum, sizeof(Elf64_Phdr));
  if (header.e_phnum == 0 || !table_size ||
      !range_fits(header.e_phoff, *table_size, image.size())) {
    return fail(Errc::kInvalidArgument,
                "ELF program headers ({} at offset {:#x}) are missing or "
                "outside the {}-byte file",
                header.e_phnum, header.e_phoff, image.size());
  }
  LoadedPayload loaded{header.e_entry, UINT64_MAX, 0};
  bool entry_loaded = false;
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, image.data() + header.e_phoff + i * sizeof ph, sizeof ph);
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    if (ph.p_filesz > ph.p_memsz || !range_fits(ph.p_offset, ph.p_filesz, image.size())) {
      return fail(Errc::kInvalidArgument,
                  "ELF segment {}: file bytes {:#x}+{:#x} exceed the "
                  "file or the segment",
                  i, ph.p_offset, ph.p_filesz);
    }
    if (memory.host_span(ph.p_paddr, ph.p_memsz) == nullptr) {
      return fail(Errc::kInvalidArgument,
                  "ELF segment {}: {:#x}-{:#x} is not inside guest RAM "
                  "(raise memory.size or link the payload lower)",
                  i, ph.p_paddr, ph.p_paddr + ph.p_memsz);
    }
    FERRY_TRY(memory.write(ph.p_paddr, image.subspan(ph.p_offset, ph.p_filesz)));
    FERRY_TRY(memory.zero(ph.p_paddr + ph.p_filesz, ph.p_memsz - ph.p_filesz));
    loaded.begin = std::min(loaded.begin, ph.p_paddr);
    loaded.end = std::max(loaded.end, ph.p_paddr + ph.p_memsz);
    entry_loaded |= header.e_entry >= ph.p_paddr && header.e_entry - ph.p_paddr < ph.p_memsz;
  }
  if (loaded.end == 0) return fail(Errc::kInvalidArgument, "the ELF file has no PT_LOAD segment");
  if (!entry_loaded) {
    return fail(Errc::kInvalidArgument, "ELF entry point {:#x} is not inside a loaded segment",
                header.e_entry);
  }
  return loaded;
}

}  // namespace ferry::vmm

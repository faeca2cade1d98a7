#include <elf.h>

#include <algorithm>
#include <cstring>

#include "ferry/base/checked.h"
#include "ferry/vmm/memory_layout.h"
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

namespace {

// True when [gpa, gpa + length) is inside one RAM range of a `memory_size` guest.
bool inside_ram(uint64_t memory_size, uint64_t gpa, uint64_t length) {
  for (const RamRange& r : ram_ranges(memory_size)) {
    if (gpa >= r.gpa && range_fits(gpa - r.gpa, length, r.size)) return true;
  }
  return false;
}

std::string ram_text(uint64_t memory_size) {
  std::string text;
  for (const RamRange& r : ram_ranges(memory_size)) {
    text += fmt::format("{}{:#x}-{:#x}", text.empty() ? "" : ", ", r.gpa, r.gpa + r.size);
  }
  return text;
}

}  // namespace

Expected<PayloadPlan> plan_flat(std::span<const uint8_t> image, uint64_t memory_size,
                                uint64_t address, std::optional<uint64_t> entry) {
  if (image.empty()) {
    return fail(Errc::kInvalidArgument, "the flat image is empty; give the file the guest's code");
  }
  if (!inside_ram(memory_size, address, image.size())) {
    return fail(Errc::kInvalidArgument,
                "a {}-byte flat image at load_address {:#x} is not inside guest RAM ({} at {}); "
                "raise memory.size or choose a load_address inside RAM",
                image.size(), address, format_size(memory_size), ram_text(memory_size));
  }
  PayloadPlan plan{.pieces = {{.gpa = address, .bytes = image, .size = image.size()}},
                   .loaded = {entry.value_or(address), address, address + image.size()},
                   .storage = {}};
  if (plan.loaded.entry < plan.loaded.begin || plan.loaded.entry >= plan.loaded.end) {
    return fail(Errc::kInvalidArgument,
                "entry {:#x} is outside the loaded image {:#x}-{:#x}; point it at the image's "
                "code or leave entry out to start at load_address",
                plan.loaded.entry, plan.loaded.begin, plan.loaded.end);
  }
  return plan;
}

Expected<PayloadPlan> plan_elf64(std::span<const uint8_t> image, uint64_t memory_size) {
  if (image.size() < sizeof(Elf64_Ehdr) || !looks_like_elf(image)) {
    return fail(Errc::kInvalidArgument,
                "not an ELF file: {} ({} bytes; an ELF64 header alone is {}); rebuild the "
                "payload, or give format: flat for a raw image",
                looks_like_elf(image) ? "too short, truncated" : "no ELF magic", image.size(),
                sizeof(Elf64_Ehdr));
  }
  Elf64_Ehdr header;
  std::memcpy(&header, image.data(), sizeof header);
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB) {
    return fail(
        Errc::kInvalidArgument,
        "not a 64-bit little-endian ELF (this one is {}); ferry loads x86-64 ELF only: "
        "link the payload for x86-64 (e.g. -m64), or give format: flat for a raw image",
        header.e_ident[EI_CLASS] == ELFCLASS32 ? "32-bit" : "of another class or byte order");
  }
  if (header.e_machine != EM_X86_64) {
    return fail(Errc::kInvalidArgument,
                "ELF machine is {}, not x86-64 ({}); build the payload for x86-64",
                header.e_machine, EM_X86_64);
  }
  if (header.e_type != ET_EXEC) {
    return fail(Errc::kInvalidArgument,
                "ELF type is {}; ferry loads executables (ET_EXEC) only: link with -static and "
                "without -pie",
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
  PayloadPlan plan{.pieces = {}, .loaded = {header.e_entry, UINT64_MAX, 0}, .storage = {}};
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
    if (!inside_ram(memory_size, ph.p_paddr, ph.p_memsz)) {
      return fail(Errc::kInvalidArgument,
                  "ELF segment {}: {:#x}-{:#x} is not inside guest RAM "
                  "(raise memory.size or link the payload lower)",
                  i, ph.p_paddr, ph.p_paddr + ph.p_memsz);
    }
    plan.pieces.push_back(
        {.gpa = ph.p_paddr, .bytes = image.subspan(ph.p_offset, ph.p_filesz), .size = ph.p_memsz});
    plan.loaded.begin = std::min(plan.loaded.begin, ph.p_paddr);
    plan.loaded.end = std::max(plan.loaded.end, ph.p_paddr + ph.p_memsz);
    entry_loaded |= header.e_entry >= ph.p_paddr && header.e_entry - ph.p_paddr < ph.p_memsz;
  }
  if (plan.pieces.empty()) {
    return fail(Errc::kInvalidArgument, "the ELF file has no PT_LOAD segment");
  }
  if (!entry_loaded) {
    return fail(Errc::kInvalidArgument, "ELF entry point {:#x} is not inside a loaded segment",
                header.e_entry);
  }
  return plan;
}

Expected<LoadedPayload> write_payload(const GuestMemory& memory, const PayloadPlan& plan) {
  for (const PayloadPiece& piece : plan.pieces) {
    FERRY_TRY(memory.write(piece.gpa, piece.bytes));
    FERRY_TRY(memory.zero(piece.gpa + piece.bytes.size(), piece.size - piece.bytes.size()));
  }
  return plan.loaded;
}

Expected<LoadedPayload> load_flat(const GuestMemory& memory, std::span<const uint8_t> image,
                                  uint64_t address, std::optional<uint64_t> entry) {
  FERRY_ASSIGN(PayloadPlan plan, plan_flat(image, memory.size(), address, entry));
  return write_payload(memory, plan);
}

Expected<LoadedPayload> load_elf64(const GuestMemory& memory, std::span<const uint8_t> image) {
  FERRY_ASSIGN(PayloadPlan plan, plan_elf64(image, memory.size()));
  return write_payload(memory, plan);
}

}  // namespace ferry::vmm

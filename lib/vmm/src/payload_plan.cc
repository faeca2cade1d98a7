#include "ferry/vmm/payload_plan.h"

#include <filesystem>

#include "ferry/base/checked.h"
#include "ferry/base/file.h"
#include "ferry/base/units.h"
#include "ferry/vmm/boot_state.h"
#include "ferry/vmm/builtin_payloads.h"

namespace ferry::vmm {

Expected<PreparedPayload> prepare_payload(const PayloadConfig& p, uint64_t memory_size) {
  PreparedPayload prepared;
  std::span<const uint8_t> image;
  if (!p.builtin.empty()) {
    const BuiltinPayload* builtin = find_builtin_payload(p.builtin);
    if (builtin == nullptr) {
      return fail(Errc::kNotFound, "no built-in guest named '{}'", p.builtin);
    }
    image = builtin->image;
    prepared.what = fmt::format("payload (built-in {})", p.builtin);
  } else {
    std::error_code ec;
    if (const uint64_t size = std::filesystem::file_size(p.file, ec); !ec && size > memory_size) {
      return fail(Errc::kInvalidArgument,
                  "{} is {}, more than the {} of guest RAM; raise memory.size or use a smaller "
                  "image",
                  p.file, format_size(size), format_size(memory_size));
    }
    FERRY_ASSIGN(prepared.file_bytes, read_file(p.file, memory_size));
    image = prepared.file_bytes;
    prepared.what = fmt::format("payload {}", p.file);
  }
  FERRY_ASSIGN(prepared.plan, p.format == PayloadFormat::kElf
                                  ? plan_elf64(image, memory_size)
                                  : plan_flat(image, memory_size, p.load_address, p.entry));
  const LoadedPayload& loaded = prepared.plan.loaded;
  if (p.mode != BootMode::kReal &&
      ranges_overlap(loaded.begin, loaded.end - loaded.begin, kBootTablesBegin,
                     kBootTablesEnd - kBootTablesBegin)) {
    return fail(Errc::kInvalidArgument,
                "it occupies {:#x}-{:#x}, over the boot tables ferry writes at {:#x}-{:#x} for {} "
                "mode; load it at or above {:#x}",
                loaded.begin, loaded.end, kBootTablesBegin, kBootTablesEnd, boot_mode_name(p.mode),
                kBootTablesEnd);
  }
  if (p.mode == BootMode::kReal && loaded.entry >= 0x100000) {
    return fail(Errc::kInvalidArgument, "real-mode entry {:#x} must be below 1 MiB", loaded.entry);
  }
  return prepared;
}

}  // namespace ferry::vmm

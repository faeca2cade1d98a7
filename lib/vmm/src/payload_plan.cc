#include "ferry/vmm/payload_plan.h"

#include <filesystem>

#include "ferry/base/checked.h"
#include "ferry/base/file.h"
#include "ferry/base/units.h"
#include "ferry/vmm/boot_state.h"
#include "ferry/vmm/builtin_payloads.h"
#include "ferry/vmm/linux_boot.h"

namespace ferry::vmm {

namespace {

// Reads a payload file no larger than the guest's RAM.
Expected<std::vector<uint8_t>> read_payload_file(const std::string& path, uint64_t memory_size) {
  std::error_code ec;
  if (const uint64_t size = std::filesystem::file_size(path, ec); !ec && size > memory_size) {
    return fail(Errc::kInvalidArgument,
                "{} is {}, more than the {} of guest RAM; raise memory.size or use a smaller "
                "image",
                path, format_size(size), format_size(memory_size));
  }
  return read_file(path, memory_size);
}

const char* linux_key(LinuxPart part) {
  switch (part) {
    case LinuxPart::kKernel:
      return "kernel";
    case LinuxPart::kInitrd:
      return "initrd";
    case LinuxPart::kCmdline:
      return "cmdline";
  }
  return "kernel";
}

Expected<PreparedPayload> prepare_linux(const PayloadConfig& p, uint64_t memory_size,
                                        std::string* fault_key) {
  PreparedPayload prepared;
  prepared.what = fmt::format("Linux kernel {}", p.file);
  auto set_key = [&](LinuxPart part) {
    if (fault_key != nullptr) *fault_key = linux_key(part);
  };
  set_key(LinuxPart::kKernel);
  FERRY_ASSIGN(prepared.file_bytes, read_payload_file(p.file, memory_size));
  if (!p.initrd.empty()) {
    set_key(LinuxPart::kInitrd);
    FERRY_ASSIGN(prepared.initrd_bytes, read_payload_file(p.initrd, memory_size));
  }
  LinuxPart blame = LinuxPart::kKernel;
  auto plan = plan_bzimage(
      {.kernel = prepared.file_bytes, .initrd = prepared.initrd_bytes, .cmdline = p.cmdline},
      memory_size, &blame);
  if (!plan) {
    set_key(blame);
    return fail(plan.error());
  }
  prepared.plan = std::move(*plan);
  return prepared;
}

}  // namespace

Expected<PreparedPayload> prepare_payload(const PayloadConfig& p, uint64_t memory_size,
                                          std::string* fault_key) {
  if (p.format == PayloadFormat::kLinux) return prepare_linux(p, memory_size, fault_key);
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
    FERRY_ASSIGN(prepared.file_bytes, read_payload_file(p.file, memory_size));
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

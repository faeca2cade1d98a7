// Guest payloads: what to load, how the vCPUs start, and the loaders for flat and ELF64 images.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "ferry/base/error.h"
#include "ferry/vmm/guest_memory.h"

namespace ferry::vmm {

enum class BootMode : uint8_t { kReal, kProtected, kLong };
enum class PayloadFormat : uint8_t { kFlat, kElf };

std::string_view boot_mode_name(BootMode mode);  // "real", "protected", "long"
std::optional<BootMode> parse_boot_mode(std::string_view name);

// Where a payload landed.
struct LoadedPayload {
  uint64_t entry = 0;
  uint64_t begin = 0;  // lowest guest-physical byte written
  uint64_t end = 0;    // one past the highest
};

/// Copies `image` to guest-physical `address`; entry defaults to address.
Expected<LoadedPayload> load_flat(const GuestMemory& memory, std::span<const uint8_t> image,
                                  uint64_t address, std::optional<uint64_t> entry);

/// Loads the PT_LOAD segments of an x86-64 ELF executable at their physical addresses and zeroes
/// their bss. Every header field is checked against the image and guest RAM.
Expected<LoadedPayload> load_elf64(const GuestMemory& memory, std::span<const uint8_t> image);

/// True when the image starts with the ELF magic.
bool looks_like_elf(std::span<const uint8_t> image);

}  // namespace ferry::vmm

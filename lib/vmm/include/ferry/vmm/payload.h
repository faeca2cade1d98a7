// Guest payloads: what to load, how the vCPUs start, and the loaders for flat and ELF64 images.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "ferry/base/error.h"
#include "ferry/vmm/guest_memory.h"

namespace ferry::vmm {

enum class BootMode : uint8_t { kReal, kProtected, kLong };
enum class PayloadFormat : uint8_t { kFlat, kElf, kLinux };

std::string_view boot_mode_name(BootMode mode);  // "real", "protected", "long"
std::optional<BootMode> parse_boot_mode(std::string_view name);

// Where a payload landed.
struct LoadedPayload {
  uint64_t entry = 0;
  uint64_t begin = 0;  // lowest guest-physical byte written
  uint64_t end = 0;    // one past the highest
};

// A payload laid out in guest RAM before anything is written: every check a loader makes needs
// only the image and the RAM size, so `ferry validate` makes them too (docs/config.md).
struct PayloadPiece {
  uint64_t gpa = 0;
  std::span<const uint8_t> bytes;  // copied to gpa
  uint64_t size = 0;               // bytes.size() or more: the rest is zeroed (ELF bss)
};
struct PayloadPlan {
  std::vector<PayloadPiece> pieces;
  LoadedPayload loaded;
  // Bytes that pieces point at and no file holds (Linux's boot_params); shared so copies of the
  // plan keep them alive at the same address.
  std::vector<std::shared_ptr<const std::vector<uint8_t>>> storage;
};

/// Lays out a flat image at `address` in a `memory_size` guest; entry defaults to address.
Expected<PayloadPlan> plan_flat(std::span<const uint8_t> image, uint64_t memory_size,
                                uint64_t address, std::optional<uint64_t> entry);
/// Lays out the PT_LOAD segments of an x86-64 ELF executable at their physical addresses; every
/// header field is checked against the image and the guest's RAM.
Expected<PayloadPlan> plan_elf64(std::span<const uint8_t> image, uint64_t memory_size);
/// Writes a plan (made for this memory's size) into guest memory.
Expected<LoadedPayload> write_payload(const GuestMemory& memory, const PayloadPlan& plan);

/// Copies `image` to guest-physical `address`; entry defaults to address.
Expected<LoadedPayload> load_flat(const GuestMemory& memory, std::span<const uint8_t> image,
                                  uint64_t address, std::optional<uint64_t> entry);

/// Loads the PT_LOAD segments of an x86-64 ELF executable at their physical addresses and zeroes
/// their bss. Every header field is checked against the image and guest RAM.
Expected<LoadedPayload> load_elf64(const GuestMemory& memory, std::span<const uint8_t> image);

/// True when the image starts with the ELF magic.
bool looks_like_elf(std::span<const uint8_t> image);

}  // namespace ferry::vmm

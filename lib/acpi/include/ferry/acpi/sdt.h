// The bytes every ACPI table shares: little-endian fields, the 36-byte system description header
// (signature, length, revision, checksum, OEM and creator IDs), and the checksum rule (all bytes
// of a table add up to zero, modulo 256).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace ferry::acpi {

using Bytes = std::vector<uint8_t>;

constexpr size_t kHeaderSize = 36;
constexpr size_t kLengthOffset = 4;
constexpr size_t kChecksumOffset = 9;

/// Appends `value`'s low `size` bytes, least significant first.
void put(Bytes& out, uint64_t value, unsigned size);
/// Overwrites `size` bytes at `offset` with `value`, least significant first.
void patch(Bytes& out, size_t offset, uint64_t value, unsigned size);
/// Appends `text`, cut or padded with `pad` to exactly `size` bytes.
void put_text(Bytes& out, std::string_view text, size_t size, char pad = ' ');
/// The byte sum of `bytes`, modulo 256 (0 for a table with a correct checksum).
uint8_t byte_sum(std::span<const uint8_t> bytes);

/// A table's header with a zero length and checksum; finish_table() fills both.
Bytes begin_table(std::string_view signature, uint8_t revision);
/// Writes the table's length and the checksum that makes its bytes sum to zero.
void finish_table(Bytes& table);

}  // namespace ferry::acpi

#include "ferry/acpi/sdt.h"

namespace ferry::acpi {
namespace {

constexpr std::string_view kOemId = "FERRY";         // 6 bytes
constexpr std::string_view kOemTableId = "FERRYVM";  // 8 bytes
constexpr uint32_t kOemRevision = 1;
constexpr std::string_view kCreatorId = "FRRY";  // 4 bytes
constexpr uint32_t kCreatorRevision = 1;

}  // namespace

void put(Bytes& out, uint64_t value, unsigned size) {
  for (unsigned i = 0; i < size; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

void patch(Bytes& out, size_t offset, uint64_t value, unsigned size) {
  for (unsigned i = 0; i < size; ++i) out.at(offset + i) = static_cast<uint8_t>(value >> (8 * i));
}

void put_text(Bytes& out, std::string_view text, size_t size, char pad) {
  for (size_t i = 0; i < size; ++i)
    out.push_back(static_cast<uint8_t>(i < text.size() ? text[i] : pad));
}

uint8_t byte_sum(std::span<const uint8_t> bytes) {
  uint8_t sum = 0;
  for (uint8_t b : bytes) sum = static_cast<uint8_t>(sum + b);
  return sum;
}

Bytes begin_table(std::string_view signature, uint8_t revision) {
  Bytes table;
  put_text(table, signature, 4);
  put(table, 0, 4);  // length
  put(table, revision, 1);
  put(table, 0, 1);  // checksum
  put_text(table, kOemId, 6);
  put_text(table, kOemTableId, 8);
  put(table, kOemRevision, 4);
  put_text(table, kCreatorId, 4);
  put(table, kCreatorRevision, 4);
  return table;
}

void finish_table(Bytes& table) {
  patch(table, kLengthOffset, table.size(), 4);
  table.at(kChecksumOffset) = 0;
  table.at(kChecksumOffset) = static_cast<uint8_t>(0x100 - byte_sum(table));
}

}  // namespace ferry::acpi

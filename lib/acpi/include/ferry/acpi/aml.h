// A minimal AML encoder (ACPI 6.3, chapter 20) for a static DSDT: names, scopes, devices,
// integers, strings, EISA IDs, packages, buffers, and the resource descriptors a host bridge and
// an ISA device need (chapter 6.4). Every function returns the encoded bytes of one term.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "ferry/acpi/sdt.h"

namespace ferry::acpi::aml {

// A name path such as "_HID", "PCI0" or "\\_SB_.PCI0", checked when compiled: one to four
// segments of one to four characters [A-Z0-9_] (not starting with a digit), padded with '_'.
class NameString {
 public:
  static constexpr size_t kMaxSegments = 4;
  consteval NameString(const char* path) {  // NOLINT: implicit from a literal on purpose
    size_t i = 0;
    if (path[0] == '\\') {
      root_ = true;
      i = 1;
    }
    while (true) {
      if (count_ == kMaxSegments) throw "too many name segments";
      std::array<char, 4> seg = {'_', '_', '_', '_'};
      size_t n = 0;
      for (; path[i] != '\0' && path[i] != '.'; ++i, ++n) {
        const char c = path[i];
        const bool digit = c >= '0' && c <= '9';
        if (n == 4 || !((c >= 'A' && c <= 'Z') || c == '_' || (digit && n > 0))) {
          throw "a name segment is 1-4 of A-Z, 0-9, _ and does not start with a digit";
        }
        seg[n] = c;
      }
      if (n == 0) throw "empty name segment";
      segments_[count_++] = seg;
      if (path[i] == '\0') break;
      ++i;
    }
  }
  /// Appends the encoded name (root prefix, then one segment, a dual or a multi name path).
  void encode(Bytes& out) const;

 private:
  bool root_ = false;
  size_t count_ = 0;
  std::array<std::array<char, 4>, kMaxSegments> segments_{};
};

using Terms = std::vector<Bytes>;

/// A PkgLength for `body` bytes that follow it (the encoded length counts itself too).
Bytes pkg_length(size_t body);

/// The smallest encoding of an integer: Zero, One, or a Byte/Word/DWord/QWord constant.
Bytes integer(uint64_t value);
/// A null-terminated ASCII string.
Bytes string(std::string_view text);

// A compressed EISA ID such as "PNP0A08" (three letters A-Z, four upper-case hex digits), checked
// when compiled: 5 bits per letter and 4 per digit, stored most significant byte first.
struct EisaId {
  consteval EisaId(const char* id) {  // NOLINT: implicit from a literal on purpose
    uint32_t v = 0;
    for (int i = 0; i < 3; ++i) {
      if (id[i] < 'A' || id[i] > 'Z') throw "an EISA ID starts with three letters A-Z";
      v = (v << 5) | static_cast<uint32_t>(id[i] - '@');
    }
    for (int i = 3; i < 7; ++i) {
      const char c = id[i];
      const bool digit = c >= '0' && c <= '9';
      if (!digit && (c < 'A' || c > 'F')) throw "an EISA ID ends with four hex digits 0-9, A-F";
      v = (v << 4) | static_cast<uint32_t>(digit ? c - '0' : c - 'A' + 10);
    }
    if (id[7] != '\0') throw "an EISA ID has seven characters";
    value = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >> 8) & 0xff00) | (v >> 24);
  }
  uint32_t value;  // as the DWord reads in little-endian AML
};
/// An EISA ID as the DWord constant ASL's EisaId() compiles to.
Bytes eisa_id(EisaId id);

/// Name(name, object)
Bytes name(NameString path, const Bytes& object);
/// Scope(path) { terms }
Bytes scope(NameString path, const Terms& terms);
/// Device(name) { terms }
Bytes device(NameString path, const Terms& terms);
/// Package() { elements }
Bytes package(const Terms& elements);
/// Buffer() { bytes }
Bytes buffer(const Bytes& bytes);

// Resource descriptors, for resource_template().
/// WordBusNumber, a bridge's decoded bus range (producer, fixed min and max).
Bytes word_bus_number(uint16_t min, uint16_t max);
/// WordIO, a bridge's I/O window (producer, fixed, the entire range).
Bytes word_io(uint16_t min, uint16_t max);
/// DWordMemory, a bridge's 32-bit MMIO window (producer, fixed, read-write, non-cacheable).
Bytes dword_memory(uint32_t min, uint32_t max);
/// QWordMemory, a bridge's 64-bit MMIO window (producer, fixed, read-write, prefetchable).
Bytes qword_memory(uint64_t min, uint64_t max);
/// IO(Decode16, base, base, 1, length): ports a device decodes.
Bytes io(uint16_t base, uint8_t length);
/// IRQNoFlags() { irq }: an ISA interrupt, edge triggered, active high.
Bytes irq_no_flags(uint8_t irq);
/// Memory32Fixed(ReadWrite, base, length).
Bytes memory32_fixed(uint32_t base, uint32_t length);
/// ResourceTemplate() { descriptors }: a buffer of them with the end tag.
Bytes resource_template(const Terms& descriptors);

}  // namespace ferry::acpi::aml

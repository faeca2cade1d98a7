#include "ferry/acpi/aml.h"

namespace ferry::acpi::aml {
namespace {

constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kOneOp = 0x01;
constexpr uint8_t kBytePrefix = 0x0a;
constexpr uint8_t kWordPrefix = 0x0b;
constexpr uint8_t kDWordPrefix = 0x0c;
constexpr uint8_t kStringPrefix = 0x0d;
constexpr uint8_t kQWordPrefix = 0x0e;
constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kScopeOp = 0x10;
constexpr uint8_t kBufferOp = 0x11;
constexpr uint8_t kPackageOp = 0x12;
constexpr uint8_t kExtOpPrefix = 0x5b;
constexpr uint8_t kDeviceOp = 0x82;
constexpr uint8_t kRootChar = '\\';
constexpr uint8_t kDualNamePrefix = 0x2e;
constexpr uint8_t kMultiNamePrefix = 0x2f;

// Resource descriptors (ACPI 6.4): large items carry a 16-bit length after the tag.
constexpr uint8_t kDWordAddressTag = 0x87;
constexpr uint8_t kWordAddressTag = 0x88;
constexpr uint8_t kQWordAddressTag = 0x8a;
constexpr uint8_t kMemory32FixedTag = 0x86;
constexpr uint8_t kIoTag = 0x47;   // small item 0x08, 7 bytes
constexpr uint8_t kIrqTag = 0x22;  // small item 0x04, 2 bytes: the mask only
constexpr uint8_t kEndTag = 0x79;  // small item 0x0f, 1 byte: the checksum
constexpr uint8_t kSpaceMemory = 0;
constexpr uint8_t kSpaceIo = 1;
constexpr uint8_t kSpaceBusNumber = 2;
constexpr uint8_t kWindowFlags = 0x0c;  // producer, positive decode, min and max fixed
constexpr uint8_t kIoEntireRange = 0x03;
constexpr uint8_t kMemReadWrite = 0x01;
constexpr uint8_t kMemCacheable = 0x02;

void append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

// `op` bytes, then the PkgLength of everything after it, then `body`.
Bytes with_pkg_length(Bytes op, const Bytes& body) {
  append(op, pkg_length(body.size()));
  append(op, body);
  return op;
}

Bytes joined(const Terms& terms) {
  Bytes out;
  for (const Bytes& t : terms) append(out, t);
  return out;
}

// An address space descriptor: tag, length, space, window flags, type flags, then the five
// fields (granularity, min, max, translation, length) of `width` bytes each.
Bytes address_space(uint8_t tag, uint8_t space, uint8_t type_flags, unsigned width, uint64_t min,
                    uint64_t max) {
  Bytes out{tag};
  put(out, 3 + 5 * width, 2);
  put(out, space, 1);
  put(out, kWindowFlags, 1);
  put(out, type_flags, 1);
  put(out, 0, width);  // granularity
  put(out, min, width);
  put(out, max, width);
  put(out, 0, width);  // translation offset
  put(out, max - min + 1, width);
  return out;
}

}  // namespace

void NameString::encode(Bytes& out) const {
  if (root_) out.push_back(kRootChar);
  if (count_ == 2) out.push_back(kDualNamePrefix);
  if (count_ > 2) {
    out.push_back(kMultiNamePrefix);
    out.push_back(static_cast<uint8_t>(count_));
  }
  for (size_t s = 0; s < count_; ++s)
    out.insert(out.end(), segments_[s].begin(), segments_[s].end());
}

Bytes pkg_length(size_t body) {
  // One byte holds up to 63; n bytes hold 4 + 8 * (n - 1) bits, and the length counts itself.
  if (body + 1 < 64) return {static_cast<uint8_t>(body + 1)};
  for (size_t n = 2; n <= 4; ++n) {
    const size_t total = body + n;
    if (total >= (size_t{1} << (4 + 8 * (n - 1)))) continue;
    Bytes out{static_cast<uint8_t>(((n - 1) << 6) | (total & 0xf))};
    for (size_t i = 1; i < n; ++i) out.push_back(static_cast<uint8_t>(total >> (4 + 8 * (i - 1))));
    return out;
  }
  return {};  // past 256 MiB: no AML this encoder builds comes near
}

Bytes integer(uint64_t value) {
  if (value == 0) return {kZeroOp};
  if (value == 1) return {kOneOp};
  Bytes out;
  if (value <= UINT8_MAX) {
    out.push_back(kBytePrefix);
    put(out, value, 1);
  } else if (value <= UINT16_MAX) {
    out.push_back(kWordPrefix);
    put(out, value, 2);
  } else if (value <= UINT32_MAX) {
    out.push_back(kDWordPrefix);
    put(out, value, 4);
  } else {
    out.push_back(kQWordPrefix);
    put(out, value, 8);
  }
  return out;
}

Bytes string(std::string_view text) {
  Bytes out{kStringPrefix};
  out.insert(out.end(), text.begin(), text.end());
  out.push_back(0);
  return out;
}

Bytes eisa_id(EisaId id) {
  Bytes out{kDWordPrefix};
  put(out, id.value, 4);
  return out;
}

Bytes name(NameString path, const Bytes& object) {
  Bytes out{kNameOp};
  path.encode(out);
  append(out, object);
  return out;
}

Bytes scope(NameString path, const Terms& terms) {
  Bytes body;
  path.encode(body);
  append(body, joined(terms));
  return with_pkg_length({kScopeOp}, body);
}

Bytes device(NameString path, const Terms& terms) {
  Bytes body;
  path.encode(body);
  append(body, joined(terms));
  return with_pkg_length({kExtOpPrefix, kDeviceOp}, body);
}

Bytes package(const Terms& elements) {
  Bytes body{static_cast<uint8_t>(elements.size())};
  append(body, joined(elements));
  return with_pkg_length({kPackageOp}, body);
}

Bytes buffer(const Bytes& bytes) {
  Bytes body = integer(bytes.size());
  append(body, bytes);
  return with_pkg_length({kBufferOp}, body);
}

Bytes word_bus_number(uint16_t min, uint16_t max) {
  return address_space(kWordAddressTag, kSpaceBusNumber, 0, 2, min, max);
}

Bytes word_io(uint16_t min, uint16_t max) {
  return address_space(kWordAddressTag, kSpaceIo, kIoEntireRange, 2, min, max);
}

Bytes dword_memory(uint32_t min, uint32_t max) {
  return address_space(kDWordAddressTag, kSpaceMemory, kMemReadWrite, 4, min, max);
}

Bytes qword_memory(uint64_t min, uint64_t max) {
  return address_space(kQWordAddressTag, kSpaceMemory, kMemReadWrite | kMemCacheable, 8, min, max);
}

Bytes io(uint16_t base, uint8_t length) {
  Bytes out{kIoTag, 0x01};  // 16-bit decode
  put(out, base, 2);
  put(out, base, 2);
  put(out, 1, 1);  // alignment
  put(out, length, 1);
  return out;
}

Bytes irq_no_flags(uint8_t irq) {
  Bytes out{kIrqTag};
  put(out, uint16_t{1} << (irq & 15), 2);
  return out;
}

Bytes memory32_fixed(uint32_t base, uint32_t length) {
  Bytes out{kMemory32FixedTag};
  put(out, 9, 2);
  put(out, 0x01, 1);  // read-write
  put(out, base, 4);
  put(out, length, 4);
  return out;
}

Bytes resource_template(const Terms& descriptors) {
  Bytes bytes = joined(descriptors);
  bytes.push_back(kEndTag);
  bytes.push_back(0);  // checksum 0: "treat as correct"
  return buffer(bytes);
}

}  // namespace ferry::acpi::aml

#include "io_port_intercept.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "guest_linear.h"
#include "hex_bytes.h"

namespace ferry::mshv {
namespace {

constexpr uint64_t kRflagsDf = 1ull << 10;

// The execution mode facts of an intercept header.
struct Mode {
  bool long64;            // 64-bit code: EFER.LMA and CS.L
  unsigned address_size;  // default address size in bytes
};

Mode mode_of(const HvX64InterceptMessageHeader& h) {
  const bool long64 =
      (h.execution_state & kExecEferLma) && ((h.cs.attributes >> kSegLongShift) & 1);
  const bool db = (h.cs.attributes >> kSegDefaultShift) & 1;
  const bool protected_mode = h.execution_state & kExecCr0Pe;
  return {long64, long64 ? 8u : (protected_mode && db ? 4u : 2u)};
}

uint64_t next_rip(const HvX64InterceptMessageHeader& h, const Mode& mode) {
  const uint64_t next = h.rip + (h.instruction_length_cr8 & 0xf);
  return mode.long64 ? next : next & 0xffffffff;
}

uint64_t address_mask(unsigned bytes) {
  return bytes == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * bytes)) - 1;
}

// A register updated at address size `bytes`, as the CPU does: 16-bit keeps the upper bits,
// 32-bit zero-extends, 64-bit replaces.
uint64_t assign(uint64_t old, uint64_t value, unsigned bytes) {
  if (bytes == 2) return (old & ~uint64_t{0xffff}) | (value & 0xffff);
  if (bytes == 4) return value & 0xffffffff;
  return value;
}

// IN into AL/AX/EAX: narrower sizes merge into RAX, a 32-bit IN zero-extends.
uint64_t merge_in(uint64_t rax, uint32_t value, unsigned size) {
  if (size == 1) return (rax & ~uint64_t{0xff}) | value;
  if (size == 2) return (rax & ~uint64_t{0xffff}) | value;
  return value;
}

// The prefixes of an INS/OUTS that change what it touches.
struct StringInstruction {
  uint32_t segment = kHvRegDs;  // the source segment of OUTS (INS always writes ES)
  bool address_override = false;
  bool operand_override = false;
  uint8_t opcode = 0;
};

Expected<StringInstruction> decode_string(std::span<const uint8_t> bytes, bool long64) {
  StringInstruction insn;
  for (uint8_t b : bytes) {
    switch (b) {
      case 0x26:
        insn.segment = kHvRegEs;
        continue;
      case 0x2e:
        insn.segment = kHvRegCs;
        continue;
      case 0x36:
        insn.segment = kHvRegSs;
        continue;
      case 0x3e:
        insn.segment = kHvRegDs;
        continue;
      case 0x64:
        insn.segment = kHvRegFs;
        continue;
      case 0x65:
        insn.segment = kHvRegGs;
        continue;
      case 0x66:
        insn.operand_override = true;
        continue;
      case 0x67:
        insn.address_override = true;
        continue;
      case 0xf0:
      case 0xf2:
      case 0xf3:
        continue;
      default:
        break;
    }
    if (long64 && (b & 0xf0) == 0x40) continue;  // REX: W does not change INS/OUTS
    if (b >= 0x6c && b <= 0x6f) {
      insn.opcode = b;
      return insn;
    }
    break;
  }
  return fail(Errc::kGuestFault,
              "string I/O intercept, but the instruction bytes are not INS or "
              "OUTS");
}

Expected<void> simple_io(const HvX64IoPortInterceptMessage& m, unsigned size, const Mode& mode,
                         VpContext& vp, accel::GuestIo& io) {
  std::array<uint8_t, 4> data{};
  if (m.header.intercept_access_type == kHvAccessWrite) {
    std::memcpy(data.data(), &m.rax, size);
    io.pio_write(m.port_number, {data.data(), size});
    const uint32_t names[] = {kHvRegRip};
    const uint64_t values[] = {next_rip(m.header, mode)};
    return vp.write_registers(names, values);
  }
  io.pio_read(m.port_number, {data.data(), size});
  uint32_t value = 0;
  std::memcpy(&value, data.data(), size);
  const uint32_t names[] = {kHvRegRax, kHvRegRip};
  const uint64_t values[] = {merge_in(m.rax, value, size), next_rip(m.header, mode)};
  return vp.write_registers(names, values);
}

Expected<uint64_t> segment_base(const HvX64IoPortInterceptMessage& m, uint32_t segment,
                                const Mode& mode, VpContext& vp) {
  if (mode.long64 && segment != kHvRegFs && segment != kHvRegGs) return 0;
  if (segment == kHvRegDs) return m.ds.base;
  if (segment == kHvRegEs) return m.es.base;
  if (segment == kHvRegCs) return m.header.cs.base;
  FERRY_ASSIGN(HvX64SegmentRegister s, vp.segment(segment));
  return s.base;
}

Expected<void> string_io(const HvX64IoPortInterceptMessage& m, unsigned size, const Mode& mode,
                         VpContext& vp, accel::GuestIo& io) {
  const auto& h = m.header;
  const unsigned length = h.instruction_length_cr8 & 0xf;
  std::array<uint8_t, 16> bytes{};
  size_t count = std::min<size_t>(m.instruction_byte_count, length);
  std::memcpy(bytes.data(), m.instruction_bytes, count);
  GuestLinear memory(vp, mode.long64 ? UINT64_MAX : 0xffffffff);
  if (count < length) {
    // The message carried too few bytes: read the instruction from guest memory.
    const uint64_t cs_base = mode.long64 ? 0 : h.cs.base;
    const uint64_t rip_linear = mode.long64 ? h.rip : (cs_base + h.rip) & 0xffffffff;
    count = memory.fetch(rip_linear, {bytes.data(), length});
    if (count < length) {
      return fail(Errc::kGuestFault, "string I/O at RIP {:#x}: the instruction cannot be read",
                  h.rip);
    }
  }
  auto insn = decode_string({bytes.data(), count}, mode.long64);
  if (!insn) {
    return fail(Errc::kGuestFault, "{} at RIP {:#x} (bytes {})", insn.error().message(), h.rip,
                hex_bytes({bytes.data(), count}));
  }
  const bool is_in = insn->opcode <= 0x6d;
  const unsigned opcode_size = insn->opcode % 2 == 0 ? 1
                               : (mode.long64 || mode.address_size == 4) != insn->operand_override
                                   ? 4
                                   : 2;
  if (is_in != (h.intercept_access_type == kHvAccessRead) || opcode_size != size) {
    return fail(Errc::kGuestFault,
                "string I/O at RIP {:#x}: the message says a {}-byte {} but the instruction ({}) "
                "is a {}-byte {}",
                h.rip, size, h.intercept_access_type == kHvAccessRead ? "INS" : "OUTS",
                hex_bytes({bytes.data(), count}), opcode_size, is_in ? "INS" : "OUTS");
  }

  unsigned address_size = mode.address_size;
  if (insn->address_override) address_size = mode.long64 ? 4 : (address_size == 4 ? 2 : 4);
  const uint64_t mask = address_mask(address_size);
  const bool rep = m.access_info & kIoRepPrefix;
  const uint64_t total = rep ? m.rcx & mask : 1;
  const uint64_t batch = std::min(total, kMaxStringElementsPerExit);
  const uint64_t step = (h.rflags & kRflagsDf) ? uint64_t{0} - size : size;

  const uint32_t index_name = is_in ? kHvRegRdi : kHvRegRsi;
  const uint64_t index_start = is_in ? m.rdi : m.rsi;
  FERRY_ASSIGN(uint64_t base, segment_base(m, is_in ? kHvRegEs : insn->segment, mode, vp));
  uint64_t index = index_start;
  std::array<uint8_t, 4> element{};
  for (uint64_t i = 0; i < batch; ++i) {
    uint64_t linear = base + (index & mask);
    if (!mode.long64) linear &= 0xffffffff;
    if (is_in) {
      io.pio_read(m.port_number, {element.data(), size});
      auto stored = memory.write(linear, {element.data(), size});
      if (!stored) {
        return fail(Errc::kGuestFault, "INS at RIP {:#x} to linear {:#x}: {}", h.rip, linear,
                    stored.error().message());
      }
    } else {
      auto loaded = memory.read(linear, {element.data(), size}, kTranslateValidateRead);
      if (!loaded) {
        return fail(Errc::kGuestFault, "OUTS at RIP {:#x} from linear {:#x}: {}", h.rip, linear,
                    loaded.error().message());
      }
      io.pio_write(m.port_number, {element.data(), size});
    }
    index += step;
  }

  const uint64_t remaining = total - batch;
  uint32_t names[3] = {index_name, kHvRegRip, kHvRegRcx};
  uint64_t values[3] = {assign(index_start, index, address_size),
                        remaining == 0 ? next_rip(h, mode) : h.rip,
                        assign(m.rcx, remaining, address_size)};
  return vp.write_registers({names, rep ? 3u : 2u}, {values, rep ? 3u : 2u});
}

}  // namespace

Expected<void> handle_io_port_intercept(const HvX64IoPortInterceptMessage& m, VpContext& vp,
                                        accel::GuestIo& io) noexcept {
  const auto& h = m.header;
  const unsigned size = m.access_info & kIoAccessSizeMask;
  const unsigned length = h.instruction_length_cr8 & 0xf;
  if (size != 1 && size != 2 && size != 4) {
    return fail(Errc::kGuestFault, "port {:#x} intercept at RIP {:#x} with access size {}",
                m.port_number, h.rip, size);
  }
  if (length == 0) {
    return fail(Errc::kGuestFault,
                "port {:#x} intercept at RIP {:#x} without an instruction length", m.port_number,
                h.rip);
  }
  if (h.intercept_access_type != kHvAccessRead && h.intercept_access_type != kHvAccessWrite) {
    return fail(Errc::kGuestFault, "port {:#x} intercept at RIP {:#x} with access type {}",
                m.port_number, h.rip, h.intercept_access_type);
  }
  if (m.instruction_byte_count > sizeof m.instruction_bytes) {
    return fail(Errc::kGuestFault, "port {:#x} intercept at RIP {:#x} claims {} instruction bytes",
                m.port_number, h.rip, m.instruction_byte_count);
  }
  const Mode mode = mode_of(h);
  if (m.access_info & kIoStringOp) return string_io(m, size, mode, vp, io);
  return simple_io(m, size, mode, vp, io);
}

}  // namespace ferry::mshv

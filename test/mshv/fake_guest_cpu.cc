#include "fake_guest_cpu.h"

#include <fmt/format.h>

#include <cstring>

namespace ferry::test {

using namespace mshv;

namespace {

constexpr uint64_t kRflagsIf = 1ull << 9;
constexpr uint64_t kCr0Pe = 1;
constexpr uint64_t kEferLma = 1ull << 10;

template <class T>
void put(MshvRunVp& out, uint32_t type, const T& payload) {
  std::memset(out.msg_buf, 0, sizeof out.msg_buf);
  HvMessageHeader header{};
  header.message_type = type;
  header.payload_size = sizeof payload;
  std::memcpy(out.msg_buf, &header, sizeof header);
  std::memcpy(out.msg_buf + sizeof header, &payload, sizeof payload);
}

}  // namespace

bool FakeGuestCpu::long_mode() const {
  return (vp_.reg(kHvRegEfer) & kEferLma) &&
         ((vp_.segment(kHvRegCs).attributes >> kSegLongShift) & 1);
}

HvX64InterceptMessageHeader FakeGuestCpu::header(uint8_t access, unsigned length) const {
  HvX64InterceptMessageHeader h{};
  h.vp_index = vp_.index();
  h.instruction_length_cr8 =
      static_cast<uint8_t>((length & 0xf) | ((vp_.reg(kHvRegCr8) & 0xf) << 4));
  h.intercept_access_type = access;
  const bool pe = vp_.reg(kHvRegCr0) & kCr0Pe;
  h.execution_state = static_cast<uint16_t>(
      (pe ? vp_.segment(kHvRegCs).selector & 3 : 0) | (pe ? kExecCr0Pe : 0) |
      ((vp_.reg(kHvRegEfer) & kEferLma) ? kExecEferLma : 0) |
      ((vp_.reg(kHvRegPendingInterruption) & 1) ? kExecInterruptionPending : 0));
  h.cs = vp_.segment(kHvRegCs);
  h.rip = vp_.reg(kHvRegRip);
  h.rflags = vp_.reg(kHvRegRflags);
  return h;
}

FakeGuestCpu::Result FakeGuestCpu::deliver_pending(MshvRunVp& out, std::string& why) {
  // hv_x64_pending_interruption_register, with the ABI's literal bit positions.
  const uint64_t pending = vp_.reg(kHvRegPendingInterruption);
  if (!(pending & 1)) return Result::kIdle;
  const unsigned type = (pending >> 1) & 7;
  const bool has_error_code = (pending >> 4) & 1;
  const unsigned vector = (pending >> 16) & 0xffff;
  if (type != 3) {
    why = fmt::format(
        "VP {}: pending interruption {:#x} of type {}: the fake delivers exceptions "
        "(type 3) only",
        vp_.index(), pending, type);
    return Result::kBeyondModel;
  }
  // VM entry's checks of an injected hardware exception: a vector below 32, no reserved bits, and
  // an error code exactly when protected mode pushes one (#DF #TS #NP #SS #GP #PF #AC #CP).
  const bool pushes =
      (vp_.reg(kHvRegCr0) & kCr0Pe) &&
      (vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21);
  if (vector >= 32 || ((pending >> 5) & 0x1f) != 0 || ((pending >> 10) & 0x3f) != 0 ||
      has_error_code != pushes) {
    struct {
      uint32_t vp_index;
      uint32_t reserved;
    } refused{vp_.index(), 0};  // hv_x64_invalid_vp_register_message
    put(out, kHvMessageInvalidVpRegisterValue, refused);
    return Result::kMessage;
  }
  FakeException delivered;
  delivered.vector = static_cast<uint8_t>(vector);
  if (has_error_code) delivered.error_code = static_cast<uint32_t>(pending >> 32);
  delivered.cr2 = vp_.reg(kHvRegCr2);
  delivered.rip = vp_.reg(kHvRegRip);
  vp_.exceptions().push_back(delivered);
  vp_.set_reg(kHvRegPendingInterruption, 0);
  vp_.executing = false;  // in the guest's handler, which the fake does not model
  return Result::kIdle;
}

FakeGuestCpu::Result FakeGuestCpu::step(MshvRunVp& out, std::string& why) {
  if (const Result delivery = deliver_pending(out, why); delivery != Result::kIdle) {
    if (delivery == Result::kMessage) vp_.fill_register_page();
    return delivery;
  }
  while (!vp_.events().empty()) {
    bool consumed = true;
    const Result result = play(vp_.events().front(), out, consumed);
    if (consumed) vp_.events().pop_front();
    if (result == Result::kMessage) {
      vp_.fill_register_page();
      return result;
    }
  }
  if (!vp_.executing) return Result::kIdle;
  const Result result = execute(out, why);
  if (result == Result::kMessage) vp_.fill_register_page();
  return result;
}

FakeGuestCpu::Result FakeGuestCpu::play(const FakeGuestEvent& event, MshvRunVp& out,
                                        bool& consumed) {
  consumed = true;
  switch (event.kind) {
    case FakeGuestEvent::Kind::kRawMessage:
      std::memset(out.msg_buf, 0, sizeof out.msg_buf);
      std::memcpy(out.msg_buf, event.message.data(),
                  std::min(event.message.size(), sizeof out.msg_buf));
      return Result::kMessage;
    case FakeGuestEvent::Kind::kApicEoi:
      if (interrupts_.resample_on_eoi(event.vector)) return Result::kIdle;  // the kernel took it
      put(out, kHvMessageX64ApicEoi, HvX64ApicEoiMessage{vp_.index(), event.vector});
      return Result::kMessage;
    case FakeGuestEvent::Kind::kHalt:
      vp_.executing = false;
      put(out, kHvMessageX64Halt, header(kHvAccessExecute, 0));
      return Result::kMessage;
    case FakeGuestEvent::Kind::kTripleFault:
      vp_.executing = false;
      put(out, kHvMessageUnrecoverableException, header(kHvAccessExecute, 0));
      return Result::kMessage;
    case FakeGuestEvent::Kind::kMmioWrite: {
      if (interrupts_.doorbell(event.gpa, event.size, event.value)) return Result::kIdle;
      HvX64MemoryInterceptMessage m{};
      m.header = header(kHvAccessWrite, 0);
      m.memory_access_info = kMemAccessGvaGpaValid;
      m.guest_physical_address = event.gpa;
      put(out, memory_.host(event.gpa, 1) ? kHvMessageGpaIntercept : kHvMessageUnmappedGpa, m);
      return Result::kMessage;
    }
  }
  return Result::kIdle;
}

FakeGuestCpu::Result FakeGuestCpu::execute(MshvRunVp& out, std::string& why) {
  const bool long64 = long_mode();
  const HvX64SegmentRegister cs = vp_.segment(kHvRegCs);
  const uint64_t rip = vp_.reg(kHvRegRip);
  const uint64_t linear = long64 ? rip : (cs.base + rip) & 0xffffffff;
  std::array<uint8_t, 16> code{};
  size_t fetched = 0;
  for (; fetched < 15; ++fetched) {
    auto gpa =
        memory_.linear_to_physical(vp_.paging(), linear + fetched, kTranslateValidateExecute);
    if (!gpa || !memory_.read(*gpa, {&code[fetched], 1})) break;
  }
  if (fetched == 0) {
    why = fmt::format("VP {} executes at RIP {:#x} (linear {:#x}), which is not guest RAM",
                      vp_.index(), rip, linear);
    return Result::kBeyondModel;
  }

  const bool protected_mode = vp_.reg(kHvRegCr0) & kCr0Pe;
  bool operand16 = !(long64 || (protected_mode && ((cs.attributes >> kSegDefaultShift) & 1)));
  bool rep = false;
  size_t i = 0;
  for (; i < fetched; ++i) {
    const uint8_t b = code[i];
    if (b == 0x66) {
      operand16 = !operand16;
    } else if (b == 0xf2 || b == 0xf3) {
      rep = true;
    } else if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65 ||
               b == 0x67 || b == 0xf0 || (long64 && (b & 0xf0) == 0x40)) {
      // segment, address size, lock, REX: carried in the instruction bytes
    } else {
      break;
    }
  }
  if (i >= fetched) {
    why = fmt::format("VP {}: no opcode within the bytes at RIP {:#x}", vp_.index(), rip);
    return Result::kBeyondModel;
  }
  const uint8_t op = code[i];
  const unsigned wide = operand16 ? 2 : 4;
  unsigned size = 0, length = 0;
  uint16_t port = static_cast<uint16_t>(vp_.reg(kHvRegRdx));
  bool in = false, string = false;
  switch (op) {
    case 0xe4:
    case 0xe5:
    case 0xe6:
    case 0xe7:
      if (i + 1 >= fetched) break;
      port = code[i + 1];
      size = (op & 1) ? wide : 1;
      in = op <= 0xe5;
      length = static_cast<unsigned>(i + 2);
      break;
    case 0xec:
    case 0xed:
    case 0xee:
    case 0xef:
      size = (op & 1) ? wide : 1;
      in = op <= 0xed;
      length = static_cast<unsigned>(i + 1);
      break;
    case 0x6c:
    case 0x6d:
    case 0x6e:
    case 0x6f:
      size = (op & 1) ? wide : 1;
      in = op <= 0x6d;
      string = true;
      length = static_cast<unsigned>(i + 1);
      break;
    case 0xf4:
      if (vp_.reg(kHvRegRflags) & kRflagsIf) return Result::kIdle;  // waits for an interrupt
      vp_.executing = false;
      put(out, kHvMessageX64Halt, header(kHvAccessExecute, static_cast<unsigned>(i + 1)));
      return Result::kMessage;
    case 0xeb:
      if (i + 1 < fetched && code[i + 1] == 0xfe) return Result::kIdle;  // jmp .
      break;
    default:
      break;
  }
  if (size != 0) {
    HvX64IoPortInterceptMessage m{};
    m.header = header(in ? kHvAccessRead : kHvAccessWrite, length);
    m.port_number = port;
    m.access_info = static_cast<uint8_t>(size | (string ? kIoStringOp : 0) |
                                         (string && rep ? kIoRepPrefix : 0));
    m.instruction_byte_count = static_cast<uint8_t>(length);
    std::memcpy(m.instruction_bytes, code.data(), length);
    m.rax = vp_.reg(kHvRegRax);
    m.ds = vp_.segment(kHvRegDs);
    m.es = vp_.segment(kHvRegEs);
    m.rcx = vp_.reg(kHvRegRcx);
    m.rsi = vp_.reg(kHvRegRsi);
    m.rdi = vp_.reg(kHvRegRdi);
    put(out, kHvMessageX64IoPortIntercept, m);
    return Result::kMessage;
  }
  auto access = mmio_.find(linear);
  if (access != mmio_.end()) return mmio(access->second, linear, out);
  why = fmt::format(
      "VP {} executes opcode {:#04x} at RIP {:#x}: beyond the fake's model (port I/O, "
      "HLT, jmp ., or an annotated MMIO access)",
      vp_.index(), op, rip);
  return Result::kBeyondModel;
}

FakeGuestCpu::Result FakeGuestCpu::mmio(const FakeMmioAccess& a, uint64_t linear, MshvRunVp& out) {
  std::array<uint8_t, 16> bytes{};
  for (size_t k = 0; k < bytes.size(); ++k) {
    auto gpa = memory_.linear_to_physical(vp_.paging(), linear + k, kTranslateValidateExecute);
    if (!gpa || !memory_.read(*gpa, {&bytes[k], 1})) break;
  }
  // The GPA the hypervisor reports is its own walk of the GVA, unless the test says otherwise.
  uint64_t gpa = a.gpa.value_or(0);
  if (!a.gpa) {
    gpa = memory_
              .linear_to_physical(vp_.paging(), a.gva,
                                  a.write ? kTranslateValidateWrite : kTranslateValidateRead)
              .value_or(0);
  }
  HvX64MemoryInterceptMessage m{};
  m.header = header(a.write ? kHvAccessWrite : kHvAccessRead, 0);
  m.instruction_byte_count = static_cast<uint8_t>(std::min<unsigned>(a.instruction_bytes, 16));
  std::memcpy(m.instruction_bytes, bytes.data(), m.instruction_byte_count);
  m.memory_access_info =
      static_cast<uint8_t>(kMemAccessGvaValid | (a.gpa_valid ? kMemAccessGvaGpaValid : 0));
  m.guest_virtual_address = a.gva;
  m.guest_physical_address = gpa;
  put(out, memory_.host(gpa, 1) ? kHvMessageGpaIntercept : kHvMessageUnmappedGpa, m);
  return Result::kMessage;
}

}  // namespace ferry::test

// MOVS, STOS and LODS, one element per iteration, with REP, DF and the address size choosing
// the counter and index registers.
#include <algorithm>
#include <cstring>

#include "execute.h"

namespace ferry::x86 {
namespace {

enum class StringOp : uint8_t { kMovs, kStos, kLods };

struct StringSpec {
  StringOp op;
  unsigned bytes;
};

std::optional<StringSpec> string_spec(ZydisMnemonic mnemonic) {
  switch (mnemonic) {
    case ZYDIS_MNEMONIC_MOVSB:
      return StringSpec{StringOp::kMovs, 1};
    case ZYDIS_MNEMONIC_MOVSW:
      return StringSpec{StringOp::kMovs, 2};
    case ZYDIS_MNEMONIC_MOVSD:
      return StringSpec{StringOp::kMovs, 4};
    case ZYDIS_MNEMONIC_MOVSQ:
      return StringSpec{StringOp::kMovs, 8};
    case ZYDIS_MNEMONIC_STOSB:
      return StringSpec{StringOp::kStos, 1};
    case ZYDIS_MNEMONIC_STOSW:
      return StringSpec{StringOp::kStos, 2};
    case ZYDIS_MNEMONIC_STOSD:
      return StringSpec{StringOp::kStos, 4};
    case ZYDIS_MNEMONIC_STOSQ:
      return StringSpec{StringOp::kStos, 8};
    case ZYDIS_MNEMONIC_LODSB:
      return StringSpec{StringOp::kLods, 1};
    case ZYDIS_MNEMONIC_LODSW:
      return StringSpec{StringOp::kLods, 2};
    case ZYDIS_MNEMONIC_LODSD:
      return StringSpec{StringOp::kLods, 4};
    case ZYDIS_MNEMONIC_LODSQ:
      return StringSpec{StringOp::kLods, 8};
    default:
      return std::nullopt;
  }
}

ZydisRegister sized(ZydisRegister reg16, unsigned bytes) {
  // AX, CX, SI, DI at 16 bits; the 32- and 64-bit forms follow in Zydis's register order.
  const int distance = reg16 - ZYDIS_REGISTER_AX;
  switch (bytes) {
    case 1:
      return static_cast<ZydisRegister>(ZYDIS_REGISTER_AL + distance);
    case 4:
      return static_cast<ZydisRegister>(ZYDIS_REGISTER_EAX + distance);
    case 8:
      return static_cast<ZydisRegister>(ZYDIS_REGISTER_RAX + distance);
    default:
      return reg16;
  }
}

}  // namespace

Expected<bool> execute_string(Execution& x, const EmulatorOptions& options) {
  const std::optional<StringSpec> spec = string_spec(x.insn().mnemonic);
  if (!spec || x.insn().opcode_map != ZYDIS_OPCODE_MAP_DEFAULT) {
    return fail(x.unsupported("not a MOVS, STOS or LODS"));
  }
  const unsigned address_bytes = x.insn().address_width / 8;
  const ZydisRegister counter = sized(ZYDIS_REGISTER_CX, address_bytes);
  const ZydisRegister source = sized(ZYDIS_REGISTER_SI, address_bytes);
  const ZydisRegister destination = sized(ZYDIS_REGISTER_DI, address_bytes);
  const ZydisRegister accumulator = sized(ZYDIS_REGISTER_AX, spec->bytes);
  const bool rep =
      x.has(ZYDIS_ATTRIB_HAS_REP) || x.has(ZYDIS_ATTRIB_HAS_REPE) || x.has(ZYDIS_ATTRIB_HAS_REPNE);
  const uint64_t step = (x.rflags() & kRflagsDf) != 0 ? -uint64_t{spec->bytes} : spec->bytes;
  // The source is DS unless overridden; the destination is always ES.
  const Seg source_seg = x.segment_override().value_or(Seg::kDs);

  if (rep && x.read_gpr(counter) == 0) {
    if (options.vendor == CpuVendor::kIntel && x.mode() == CpuMode::kLong64 && address_bytes == 4) {
      // Intel writes the 32-bit registers even when there is nothing to do (zero-extending).
      x.write_gpr(counter, 0);
      if (spec->op == StringOp::kMovs) x.write_gpr(source, x.read_gpr(source));
      if (spec->op != StringOp::kLods) x.write_gpr(destination, x.read_gpr(destination));
    }
    return true;
  }
  const uint32_t max_iterations = std::max<uint32_t>(options.max_rep_iterations, 1);
  for (uint32_t i = 0; i < max_iterations; ++i) {
    if (rep && x.read_gpr(counter) == 0) return true;
    uint8_t element[8] = {};
    const std::span<uint8_t> data(element, spec->bytes);
    if (spec->op == StringOp::kStos) {
      const uint64_t value = x.read_gpr(accumulator);
      std::memcpy(element, &value, spec->bytes);
    } else {
      FERRY_ASSIGN(const Mapped from,
                   x.memory().map(source_seg, x.read_gpr(source), spec->bytes, AccessKind::kRead));
      FERRY_TRY(x.memory().read(from, data));
    }
    if (spec->op == StringOp::kLods) {
      uint64_t value = 0;
      std::memcpy(&value, element, spec->bytes);
      x.write_gpr(accumulator, value);
    } else {
      FERRY_ASSIGN(const Mapped to, x.memory().map(Seg::kEs, x.read_gpr(destination), spec->bytes,
                                                   AccessKind::kWrite));
      FERRY_TRY(x.memory().write(to, data));
    }
    if (spec->op != StringOp::kStos) x.write_gpr(source, x.read_gpr(source) + step);
    if (spec->op != StringOp::kLods) x.write_gpr(destination, x.read_gpr(destination) + step);
    if (!rep) return true;
    x.write_gpr(counter, x.read_gpr(counter) - 1);
  }
  return x.read_gpr(counter) == 0;
}

}  // namespace ferry::x86

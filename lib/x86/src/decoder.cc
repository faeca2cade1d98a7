#include "decoder.h"

#include <fmt/format.h>

#include <algorithm>

namespace ferry::x86 {
namespace {

ZydisMachineMode machine_mode(CpuMode mode) {
  switch (mode) {
    case CpuMode::kReal:
      return ZYDIS_MACHINE_MODE_REAL_16;
    case CpuMode::kProt16:
      return ZYDIS_MACHINE_MODE_LEGACY_16;
    case CpuMode::kProt32:
      return ZYDIS_MACHINE_MODE_LEGACY_32;
    case CpuMode::kCompat16:
      return ZYDIS_MACHINE_MODE_LONG_COMPAT_16;
    case CpuMode::kCompat32:
      return ZYDIS_MACHINE_MODE_LONG_COMPAT_32;
    case CpuMode::kLong64:
      return ZYDIS_MACHINE_MODE_LONG_64;
  }
  return ZYDIS_MACHINE_MODE_LONG_64;
}

ZydisStackWidth stack_width(CpuMode mode) {
  switch (default_width(mode)) {
    case 64:
      return ZYDIS_STACK_WIDTH_64;
    case 32:
      return ZYDIS_STACK_WIDTH_32;
    default:
      return ZYDIS_STACK_WIDTH_16;
  }
}

}  // namespace

DecodeStatus decode(const ZydisApi& zydis, CpuMode mode, std::span<const uint8_t> bytes,
                    Decoded& out) {
  ZydisDecoder decoder;
  if (ZYAN_FAILED(zydis.decoder_init(&decoder, machine_mode(mode), stack_width(mode)))) {
    return DecodeStatus::kInvalid;
  }
  const ZyanStatus status =
      zydis.decode_full(&decoder, bytes.data(), bytes.size(), &out.insn, out.operands.data());
  if (status == ZYDIS_STATUS_NO_MORE_DATA) {
    return bytes.size() >= kMaxInstructionLength ? DecodeStatus::kTooLong
                                                 : DecodeStatus::kNeedMoreBytes;
  }
  if (status == ZYDIS_STATUS_INSTRUCTION_TOO_LONG) return DecodeStatus::kTooLong;
  if (ZYAN_FAILED(status)) return DecodeStatus::kInvalid;
  const size_t length = std::min<size_t>(out.insn.length, kMaxInstructionLength);
  std::copy_n(bytes.begin(), length, out.bytes.begin());
  return DecodeStatus::kOk;
}

std::string mnemonic_name(ZydisMnemonic mnemonic) {
  auto api = zydis();
  const char* name = api ? (*api)->mnemonic_string(mnemonic) : nullptr;
  return name != nullptr ? std::string(name)
                         : fmt::format("mnemonic {}", static_cast<int>(mnemonic));
}

std::string hex_bytes(std::span<const uint8_t> bytes) {
  std::string text;
  for (uint8_t b : bytes) {
    if (!text.empty()) text += ' ';
    text += fmt::format("{:02x}", b);
  }
  return text.empty() ? "(none)" : text;
}

}  // namespace ferry::x86

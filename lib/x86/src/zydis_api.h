// Zydis, loaded on first use. ferry's binary needs only libc on a KVM host (docs/architecture.md):
// lib/x86 decodes only for MSHV's memory intercepts, so libZydis is mapped into the process the
// first time an instruction is decoded, never at start-up. lib/x86 calls three functions.
#pragma once

#include <Zydis/Zydis.h>

#include "ferry/base/error.h"

namespace ferry::x86 {

struct ZydisApi {
  decltype(&::ZydisDecoderInit) decoder_init;
  decltype(&::ZydisDecoderDecodeFull) decode_full;
  decltype(&::ZydisMnemonicGetString) mnemonic_string;
};

// The soname of the Zydis 4 library, and the Debian package that ships it.
constexpr const char* kZydisLibrary = "libZydis.so.4.0";
constexpr const char* kZydisPackage = "libzydis4.0";

/// libZydis's functions, loaded once per process; an error says which package to install.
Expected<const ZydisApi*> zydis();

/// Loads `library` and binds the functions (what zydis() does once, with kZydisLibrary).
Expected<ZydisApi> load_zydis(const char* library);

}  // namespace ferry::x86

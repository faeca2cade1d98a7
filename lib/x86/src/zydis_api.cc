#include "zydis_api.h"

#include <dlfcn.h>

#include <mutex>

namespace ferry::x86 {
namespace {

template <class Function>
bool bind(void* library, const char* name, Function& out) {
  out = reinterpret_cast<Function>(::dlsym(library, name));
  return out != nullptr;
}

}  // namespace

Expected<ZydisApi> load_zydis(const char* library) {
  void* handle = ::dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return fail(Errc::kUnsupported,
                "decoding the guest's instruction needs the Zydis 4 disassembler library ({}): "
                "{}. Install it with: apt-get install {}",
                library, ::dlerror(), kZydisPackage);
  }
  ZydisApi api{};
  const bool complete = bind(handle, "ZydisDecoderInit", api.decoder_init) &&
                        bind(handle, "ZydisDecoderDecodeFull", api.decode_full) &&
                        bind(handle, "ZydisMnemonicGetString", api.mnemonic_string);
  if (!complete) {
    const std::string why = ::dlerror();
    ::dlclose(handle);
    return fail(Errc::kUnsupported,
                "{} lacks a function ferry's x86 emulator needs ({}); it needs Zydis 4 (Debian "
                "package {})",
                library, why, kZydisPackage);
  }
  return api;  // the library stays loaded for the rest of the process
}

Expected<const ZydisApi*> zydis() {
  static std::once_flag once;
  static Expected<ZydisApi> api = fail(Errc::kInternal, "Zydis not loaded");
  std::call_once(once, [] { api = load_zydis(kZydisLibrary); });
  if (!api) return fail(api.error());
  return &*api;
}

}  // namespace ferry::x86

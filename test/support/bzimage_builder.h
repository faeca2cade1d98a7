// A synthetic Linux bzImage for tests: a setup header with the fields a 64-bit relocatable
// kernel has (Documentation/arch/x86/boot.rst), each one adjustable, and a patterned kernel.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace ferry::test {

struct BzImageBuilder {
  uint8_t setup_sects = 3;
  uint16_t version = 0x020f;
  uint32_t initrd_addr_max = 0x7fffffff;
  uint32_t kernel_alignment = 0x200000;
  uint8_t relocatable = 1;
  uint16_t xloadflags = 0x3;  // XLF_KERNEL_64, XLF_CAN_BE_LOADED_ABOVE_4G
  uint32_t cmdline_size = 2047;
  uint64_t pref_address = 0x1000000;
  uint32_t init_size = 0x800000;
  size_t kernel_size = 0x3000;
  bool magic = true;

  std::vector<uint8_t> bytes() const {
    const size_t setup = (size_t{setup_sects ? setup_sects : 4u} + 1) * 512;
    std::vector<uint8_t> out(setup + kernel_size, 0);
    for (size_t i = setup; i < out.size(); ++i) out[i] = static_cast<uint8_t>(i * 7);
    auto put = [&](size_t at, auto value) { std::memcpy(out.data() + at, &value, sizeof value); };
    put(0x1f1, setup_sects);
    if (magic) {
      put(0x1fe, uint16_t{0xaa55});
      std::memcpy(out.data() + 0x202, "HdrS", 4);
    }
    put(0x200, uint8_t{0xeb});  // jmp short
    put(0x201, uint8_t{0x6a});  // header ends at 0x202 + 0x6a = 0x26c
    put(0x206, version);
    put(0x211, uint8_t{0x01});  // LOADED_HIGH
    put(0x22c, initrd_addr_max);
    put(0x230, kernel_alignment);
    put(0x234, relocatable);
    put(0x236, xloadflags);
    put(0x238, cmdline_size);
    put(0x258, pref_address);
    put(0x260, init_size);
    put(0x268, uint32_t{0x12345678});  // kernel_info_offset: last header field, must be copied
    return out;
  }
};

}  // namespace ferry::test

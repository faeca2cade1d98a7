#include <elf.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "ferry/vmm/builtin_payloads.h"
#include "ferry/vmm/payload.h"

namespace ferry::vmm {
namespace {

using ::testing::HasSubstr;

// A minimal ELF64 executable with one PT_LOAD segment, built field by field.
struct ElfBuilder {
  Elf64_Ehdr header{};
  Elf64_Phdr segment{};
  std::vector<uint8_t> body = {0x90, 0x90, 0xf4};

  ElfBuilder() {
    std::memcpy(header.e_ident, ELFMAG, SELFMAG);
    header.e_ident[EI_CLASS] = ELFCLASS64;
    header.e_ident[EI_DATA] = ELFDATA2LSB;
    header.e_type = ET_EXEC;
    header.e_machine = EM_X86_64;
    header.e_entry = 0x100000;
    header.e_phoff = sizeof(Elf64_Ehdr);
    header.e_phentsize = sizeof(Elf64_Phdr);
    header.e_phnum = 1;
    segment.p_type = PT_LOAD;
    segment.p_offset = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);
    segment.p_paddr = 0x100000;
    segment.p_filesz = body.size();
    segment.p_memsz = 0x1000;  // the rest is bss
  }
  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> out(sizeof header + sizeof segment);
    std::memcpy(out.data(), &header, sizeof header);
    std::memcpy(out.data() + sizeof header, &segment, sizeof segment);
    out.insert(out.end(), body.begin(), body.end());
    return out;
  }
};

class PayloadLoader : public ::testing::Test {
 protected:
  GuestMemory memory_ = *GuestMemory::allocate(4 * kMiB);
};

TEST_F(PayloadLoader, LoadsElfSegmentsAndZeroesTheirBss) {
  std::memset(memory_.host_span(0x100000, 0x1000), 0xaa, 0x1000);
  auto loaded = load_elf64(memory_, ElfBuilder().bytes());
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->entry, 0x100000u);
  EXPECT_EQ(loaded->begin, 0x100000u);
  EXPECT_EQ(loaded->end, 0x101000u);
  const uint8_t* host = memory_.host_span(0x100000, 0x1000);
  EXPECT_EQ(host[0], 0x90);
  EXPECT_EQ(host[2], 0xf4);
  EXPECT_EQ(host[3], 0);
  EXPECT_EQ(host[0xfff], 0);
}

TEST_F(PayloadLoader, RefusesEveryMalformedElfWithAReason) {
  struct Case {
    const char* what;
    void (*corrupt)(ElfBuilder&);
    const char* message;
  };
  const Case cases[] = {
      {"32-bit", [](ElfBuilder& e) { e.header.e_ident[EI_CLASS] = ELFCLASS32; },
       "not a 64-bit little-endian ELF"},
      {"arm", [](ElfBuilder& e) { e.header.e_machine = EM_AARCH64; }, "not x86-64"},
      {"shared object", [](ElfBuilder& e) { e.header.e_type = ET_DYN; }, "ET_EXEC"},
      {"headers past the end", [](ElfBuilder& e) { e.header.e_phoff = 1u << 30; }, "outside the"},
      {"huge phnum", [](ElfBuilder& e) { e.header.e_phnum = 0xffff; }, "outside the"},
      {"bad phentsize", [](ElfBuilder& e) { e.header.e_phentsize = 10; },
       "program header size is 10"},
      {"file bytes past the end", [](ElfBuilder& e) { e.segment.p_filesz = 0x10000; },
       "exceed the file or the segment"},
      {"offset wraps", [](ElfBuilder& e) { e.segment.p_offset = ~uint64_t{0} - 1; },
       "exceed the file"},
      {"filesz > memsz", [](ElfBuilder& e) { e.segment.p_memsz = 1; }, "exceed the file or the"},
      {"outside RAM", [](ElfBuilder& e) { e.segment.p_paddr = 0xfec00000; },
       "is not inside guest RAM"},
      {"address wraps", [](ElfBuilder& e) { e.segment.p_paddr = ~uint64_t{0} - 0x10; },
       "is not inside guest RAM"},
      {"into the VGA hole", [](ElfBuilder& e) { e.segment.p_paddr = 0x9ff00; },
       "is not inside guest RAM"},
      {"entry outside", [](ElfBuilder& e) { e.header.e_entry = 0x200000; },
       "entry point 0x200000 is not inside a loaded segment"},
      {"no load segment", [](ElfBuilder& e) { e.segment.p_type = PT_NOTE; },
       "has no PT_LOAD segment"},
  };
  for (const Case& c : cases) {
    ElfBuilder elf;
    c.corrupt(elf);
    auto loaded = load_elf64(memory_, elf.bytes());
    ASSERT_FALSE(loaded) << c.what;
    EXPECT_THAT(loaded.error().message(), HasSubstr(c.message)) << c.what;
  }
  auto truncated = load_elf64(memory_, std::vector<uint8_t>{0x7f, 'E', 'L', 'F'});
  ASSERT_FALSE(truncated);
  EXPECT_THAT(truncated.error().message(), HasSubstr("too short"));
}

TEST_F(PayloadLoader, FlatImagesLandWhereAskedAndStayInRam) {
  const std::vector<uint8_t> image = {1, 2, 3, 4};
  auto loaded = load_flat(memory_, image, 0x8000, std::nullopt);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->entry, 0x8000u);
  EXPECT_EQ(memory_.host_span(0x8000, 4)[3], 4);
  EXPECT_TRUE(load_flat(memory_, image, 0x8000, 0x8003));
  auto outside_entry = load_flat(memory_, image, 0x8000, 0x8004);
  ASSERT_FALSE(outside_entry);
  EXPECT_THAT(outside_entry.error().message(), HasSubstr("outside the loaded image"));
  auto hole = load_flat(memory_, image, 0x9fffe, std::nullopt);
  ASSERT_FALSE(hole);
  EXPECT_THAT(hole.error().message(), HasSubstr("is not inside guest RAM"));
  EXPECT_FALSE(load_flat(memory_, image, 4 * kMiB - 2, std::nullopt));
  EXPECT_FALSE(load_flat(memory_, {}, 0x8000, std::nullopt));
}

TEST_F(PayloadLoader, EveryBuiltinGuestLoads) {
  ASSERT_FALSE(builtin_payloads().empty()) << "no built-in guest to load: the loop proves nothing";
  for (const BuiltinPayload& p : builtin_payloads()) {
    auto loaded = p.format == PayloadFormat::kElf
                      ? load_elf64(memory_, p.image)
                      : load_flat(memory_, p.image, p.load_address, std::nullopt);
    EXPECT_TRUE(loaded) << p.name << ": " << loaded.error().message();
  }
}

}  // namespace
}  // namespace ferry::vmm

// The bzImage planner on synthetic kernels built here from a setup header: what it refuses, where
// it puts the kernel, initrd and command line, and what boot_params and the e820 map say.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "ferry/vmm/boot_state.h"
#include "ferry/vmm/linux_boot.h"
#include "ferry/vmm/memory_layout.h"
#include "support/bzimage_builder.h"

namespace ferry::vmm {
namespace {

using test::BzImageBuilder;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

template <typename T>
T field(const PayloadPiece& piece, size_t at) {
  T value;
  std::memcpy(&value, piece.bytes.data() + at, sizeof value);
  return value;
}

const PayloadPiece& piece_at(const PayloadPlan& plan, uint64_t gpa) {
  for (const PayloadPiece& p : plan.pieces) {
    if (p.gpa == gpa) return p;
  }
  ADD_FAILURE() << "no piece at " << gpa;
  static const PayloadPiece none;
  return none;
}

Error refusal(const BzImageBuilder& b, uint64_t memory = 64 * kMiB,
              std::vector<uint8_t> initrd = {}, std::string_view cmdline = "",
              LinuxPart* blame = nullptr) {
  const std::vector<uint8_t> image = b.bytes();
  auto plan = plan_bzimage({.kernel = image, .initrd = initrd, .cmdline = cmdline}, memory, blame);
  EXPECT_FALSE(plan);
  return plan ? Error(Errc::kInternal, "accepted") : plan.error();
}

TEST(BzImage, LoadsTheKernelAtItsPreferredAddressWithTheEntry0x200In) {
  const std::vector<uint8_t> image = BzImageBuilder().bytes();
  auto plan = plan_bzimage({.kernel = image, .initrd = {}, .cmdline = ""}, 64 * kMiB);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(plan->loaded.begin, 0x1000000u);
  EXPECT_EQ(plan->loaded.entry, 0x1000200u);
  EXPECT_EQ(plan->loaded.end, 0x1800000u);  // init_size reserved
  const PayloadPiece& kernel = piece_at(*plan, 0x1000000);
  ASSERT_EQ(kernel.bytes.size(), 0x3000u);
  EXPECT_EQ(kernel.bytes.data(), image.data() + 4 * 512);  // after setup_sects + 1 sectors
}

TEST(BzImage, SetupSectsZeroMeansFour) {
  BzImageBuilder b;
  b.setup_sects = 0;
  const std::vector<uint8_t> image = b.bytes();
  auto plan = plan_bzimage({.kernel = image, .initrd = {}, .cmdline = ""}, 64 * kMiB);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(piece_at(*plan, 0x1000000).bytes.data(), image.data() + 5 * 512);
}

TEST(BzImage, ARelocatableKernelIsAlignedUpToKernelAlignment) {
  BzImageBuilder b;
  b.pref_address = 0x1100000;
  b.kernel_alignment = 0x400000;
  const std::vector<uint8_t> image = b.bytes();
  auto plan = plan_bzimage({.kernel = image, .initrd = {}, .cmdline = ""}, 64 * kMiB);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(plan->loaded.begin, 0x1400000u);
}

TEST(BzImage, RefusesWhatIsNotABzImage) {
  BzImageBuilder b;
  b.magic = false;
  EXPECT_THAT(refusal(b).message(), HasSubstr("not a Linux bzImage: no boot flag"));
}

TEST(BzImage, RefusesProtocolsBefore2_12) {
  BzImageBuilder b;
  b.version = 0x020b;
  EXPECT_THAT(refusal(b).message(), HasSubstr("boot protocol 2.11 is older than 2.12"));
}

TEST(BzImage, RefusesAKernelWithoutA64BitEntry) {
  BzImageBuilder b;
  b.xloadflags = 0x2;
  EXPECT_THAT(refusal(b).message(),
              HasSubstr("no 64-bit entry (xloadflags 0x2 lacks XLF_KERNEL_64)"));
}

TEST(BzImage, RefusesANonRelocatableKernelWhosePrefAddressIsNotRam) {
  BzImageBuilder b;
  b.relocatable = 0;
  b.pref_address = 0x9000000;  // 144 MiB in a 64 MiB guest
  LinuxPart blame = LinuxPart::kCmdline;
  EXPECT_THAT(refusal(b, 64 * kMiB, {}, "", &blame).message(),
              HasSubstr("not relocatable and must load at its pref_address 0x9000000"));
  EXPECT_EQ(blame, LinuxPart::kKernel);
}

TEST(BzImage, RefusesAnInitSizeBeyondRamAndSaysHowMuchIsNeeded) {
  BzImageBuilder b;
  b.init_size = 0x4000000;  // 64 MiB from 16 MiB
  EXPECT_THAT(refusal(b).message(),
              HasSubstr("decompresses in place over init_size 64 MiB from 0x1000000, up to "
                        "0x5000000, past the guest's low RAM (64 MiB of memory); raise "
                        "memory.size to at least 80 MiB"));
}

TEST(BzImage, RefusesACommandLineLongerThanCmdlineSize) {
  BzImageBuilder b;
  b.cmdline_size = 10;
  LinuxPart blame = LinuxPart::kKernel;
  EXPECT_THAT(refusal(b, 64 * kMiB, {}, "console=ttyS0", &blame).message(),
              HasSubstr("is 13 bytes; this kernel takes at most 10"));
  EXPECT_EQ(blame, LinuxPart::kCmdline);
  const std::vector<uint8_t> image = b.bytes();
  EXPECT_TRUE(plan_bzimage({.kernel = image, .initrd = {}, .cmdline = "0123456789"}, 64 * kMiB));
}

TEST(BzImage, PutsTheInitrdPageAlignedAtTheTopOfLowRamBelowInitrdAddrMax) {
  const std::vector<uint8_t> image = BzImageBuilder().bytes();
  const std::vector<uint8_t> initrd(0x1800, 0x5a);
  auto plan = plan_bzimage({.kernel = image, .initrd = initrd, .cmdline = ""}, 64 * kMiB);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(piece_at(*plan, 0x3ffe000).bytes.size(), 0x1800u);  // 64 MiB - 8 KiB

  BzImageBuilder capped;
  capped.initrd_addr_max = 0x2ffffff;  // below the end of RAM
  const std::vector<uint8_t> capped_image = capped.bytes();
  plan = plan_bzimage({.kernel = capped_image, .initrd = initrd, .cmdline = ""}, 64 * kMiB);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(piece_at(*plan, 0x2ffe000).bytes.size(), 0x1800u);
}

TEST(BzImage, RefusesAnInitrdThatDoesNotFitAboveTheKernel) {
  BzImageBuilder b;
  b.initrd_addr_max = 0x17fffff;  // the kernel's init_size ends at 0x1800000
  LinuxPart blame = LinuxPart::kKernel;
  EXPECT_THAT(refusal(b, 64 * kMiB, std::vector<uint8_t>(0x1000), "", &blame).message(),
              HasSubstr("initrd does not fit between the kernel's end 0x1800000 and 0x1800000"));
  EXPECT_EQ(blame, LinuxPart::kInitrd);
}

TEST(BzImage, BootParamsCarryTheHeaderLoaderCommandLineAndInitrd) {
  const std::vector<uint8_t> image = BzImageBuilder().bytes();
  const std::vector<uint8_t> initrd(0x1800, 0x5a);
  auto plan =
      plan_bzimage({.kernel = image, .initrd = initrd, .cmdline = "console=ttyS0"}, 64 * kMiB);
  ASSERT_TRUE(plan) << plan.error().message();
  const PayloadPiece& params = piece_at(*plan, kLinuxBootParamsAddress);
  ASSERT_EQ(params.bytes.size(), 4096u);
  EXPECT_EQ(field<uint16_t>(params, 0x1fe), 0xaa55);
  EXPECT_EQ(field<uint32_t>(params, 0x202), 0x53726448u);
  EXPECT_EQ(field<uint32_t>(params, 0x268), 0x12345678u);  // the header's last field
  EXPECT_EQ(field<uint8_t>(params, 0x26c), 0u);            // nothing past its end
  EXPECT_EQ(field<uint8_t>(params, 0x210), 0xff);          // type_of_loader
  EXPECT_EQ(field<uint32_t>(params, 0x228), kLinuxCmdlineAddress);
  EXPECT_EQ(field<uint32_t>(params, 0x0c8), 0u);          // ext_cmd_line_ptr
  EXPECT_EQ(field<uint32_t>(params, 0x218), 0x3ffe000u);  // ramdisk_image
  EXPECT_EQ(field<uint32_t>(params, 0x21c), 0x1800u);     // ramdisk_size
  EXPECT_EQ(field<uint32_t>(params, 0x0c0), 0u);
  EXPECT_EQ(field<uint32_t>(params, 0x0c4), 0u);
  const PayloadPiece& cmdline = piece_at(*plan, kLinuxCmdlineAddress);
  EXPECT_EQ(std::string(cmdline.bytes.begin(), cmdline.bytes.end()),
            std::string("console=ttyS0\0", 14));
}

TEST(BzImage, WithoutAnInitrdTheRamdiskFieldsAreZero) {
  const std::vector<uint8_t> image = BzImageBuilder().bytes();
  auto plan = plan_bzimage({.kernel = image, .initrd = {}, .cmdline = ""}, 64 * kMiB);
  ASSERT_TRUE(plan) << plan.error().message();
  const PayloadPiece& params = piece_at(*plan, kLinuxBootParamsAddress);
  EXPECT_EQ(field<uint32_t>(params, 0x218), 0u);
  EXPECT_EQ(field<uint32_t>(params, 0x21c), 0u);
  EXPECT_EQ(plan->pieces.size(), 3u);  // kernel, boot_params, command line
}

TEST(BzImage, BootParamsCarryTheE820Map) {
  const std::vector<uint8_t> image = BzImageBuilder().bytes();
  auto plan = plan_bzimage({.kernel = image, .initrd = {}, .cmdline = ""}, 64 * kMiB);
  ASSERT_TRUE(plan) << plan.error().message();
  const PayloadPiece& params = piece_at(*plan, kLinuxBootParamsAddress);
  const std::vector<E820Entry> map = linux_e820_map(64 * kMiB);
  ASSERT_EQ(field<uint8_t>(params, 0x1e8), map.size());
  for (size_t i = 0; i < map.size(); ++i) {
    EXPECT_EQ(field<uint64_t>(params, 0x2d0 + i * 20), map[i].addr) << i;
    EXPECT_EQ(field<uint64_t>(params, 0x2d0 + i * 20 + 8), map[i].size) << i;
    EXPECT_EQ(field<uint32_t>(params, 0x2d0 + i * 20 + 16), map[i].type) << i;
  }
}

TEST(E820, RamWithTheBootPagesTheAcpiWindowAndTheEcamReserved) {
  EXPECT_THAT(linux_e820_map(64 * kMiB),
              ElementsAre(E820Entry{0, 0x1000, kE820Ram},
                          E820Entry{0x1000, 0xa000, kE820Reserved},  // GDT .. stack
                          E820Entry{0xb000, 0x95000, kE820Ram},      // up to 640 KiB
                          E820Entry{0xc0000, 0x20000, kE820Ram},
                          E820Entry{0xe0000, 0x20000, kE820Reserved},  // ACPI tables
                          E820Entry{0x100000, 63 * kMiB, kE820Ram},
                          E820Entry{0xe0000000, 32 * kMiB, kE820Reserved}));  // ECAM, buses 0-31
}

TEST(E820, RamAbove3GiBIsListedFrom4GiB) {
  const std::vector<E820Entry> map = linux_e820_map(5 * kGiB);
  ASSERT_EQ(map.size(), 8u);
  EXPECT_EQ(map[5], (E820Entry{0x100000, 3 * kGiB - 0x100000, kE820Ram}));
  EXPECT_EQ(map[6], (E820Entry{kPciEcamBase, kPciEcamReservedSize, kE820Reserved}));
  EXPECT_EQ(map[7], (E820Entry{4 * kGiB, 2 * kGiB, kE820Ram}));
}

}  // namespace
}  // namespace ferry::vmm

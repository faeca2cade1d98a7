#include "ferry/vmm/config_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "ferry/vmm/builtin_payloads.h"
#include "support/temp_dir.h"

namespace ferry::vmm {
namespace {

using ::testing::HasSubstr;

Expected<VmConfig> parse(const std::string& yaml, std::vector<ConfigOverride> overrides = {}) {
  return parse_vm_config(yaml, "vm.yaml", "/specs", overrides);
}

TEST(ConfigLoader, DefaultsAreOneVcpu64MiBAndSerialOnStdout) {
  auto config = parse("payload: {builtin: hello}\n");
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->name, "vm");
  EXPECT_EQ(config->vcpus, 1u);
  EXPECT_EQ(config->memory_size, 64 * kMiB);
  EXPECT_EQ(config->huge_page_size, 0u);
  EXPECT_EQ(config->serial.mode, SerialMode::kStdout);
  EXPECT_EQ(config->payload.builtin, "hello");
  EXPECT_EQ(config->payload.mode, BootMode::kLong);
}

TEST(ConfigLoader, SerialStdioIsTheInteractiveConsole) {
  auto config = parse("serial: stdio\npayload: {builtin: hello}\n");
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->serial.mode, SerialMode::kStdio);
  EXPECT_EQ(parse("serial: off\npayload: {builtin: hello}\n")->serial.mode, SerialMode::kOff);
}

TEST(ConfigLoader, MemoryShorthandAndHugepages) {
  EXPECT_EQ(parse("memory: 1G\npayload: {builtin: hello}\n")->memory_size, kGiB);
  auto config = parse("memory: {size: 0x40000000, hugepages: 1G}\npayload: {builtin: hello}\n");
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->huge_page_size, kGiB);
  EXPECT_EQ(parse("memory: {hugepages: none}\npayload: {builtin: hello}\n")->memory_size,
            64 * kMiB);
  auto thp = parse("memory: {size: 1G, hugepages: thp}\npayload: {builtin: hello}\n");
  ASSERT_TRUE(thp) << thp.error().message();
  EXPECT_TRUE(thp->transparent_huge_pages);
  EXPECT_EQ(thp->huge_page_size, 0u);
}

TEST(ConfigLoader, VfioBackendIsAutoUnlessTheSpecOrSetSaysOtherwise) {
  using pci::host::VfioBackendChoice;
  EXPECT_EQ(parse("payload: {builtin: hello}\n")->vfio_backend, VfioBackendChoice::kAuto);
  EXPECT_EQ(parse("vfio: {backend: legacy}\npayload: {builtin: hello}\n")->vfio_backend,
            VfioBackendChoice::kLegacy);
  auto overridden =
      parse("vfio: {backend: legacy}\npayload: {builtin: hello}\n", {{"vfio.backend", "iommufd"}});
  ASSERT_TRUE(overridden) << overridden.error().message();
  EXPECT_EQ(overridden->vfio_backend, VfioBackendChoice::kIommufd);
  auto bad = parse("vfio: {backend: cdev}\npayload: {builtin: hello}\n");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message(), HasSubstr("vfio.backend"));
  EXPECT_THAT(bad.error().message(), HasSubstr("auto, legacy, iommufd"));
  auto typo = parse("vfio: {backnd: legacy}\npayload: {builtin: hello}\n");
  ASSERT_FALSE(typo);
  EXPECT_THAT(typo.error().message(), HasSubstr("backend"));
}

TEST(ConfigLoader, VfioP2pIsOffUnlessTheSpecOrSetTurnsItOn) {
  EXPECT_FALSE(parse("payload: {builtin: hello}\n")->vfio_p2p);
  EXPECT_FALSE(parse("vfio: {backend: legacy}\npayload: {builtin: hello}\n")->vfio_p2p);
  EXPECT_TRUE(parse("vfio: {p2p: true}\npayload: {builtin: hello}\n")->vfio_p2p);
  EXPECT_FALSE(parse("vfio: {p2p: false}\npayload: {builtin: hello}\n")->vfio_p2p);
  auto set = parse("payload: {builtin: hello}\n", {{"vfio.p2p", "true"}});
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_TRUE(set->vfio_p2p);
  auto unset = parse("vfio: {p2p: true}\npayload: {builtin: hello}\n", {{"vfio.p2p", "false"}});
  ASSERT_TRUE(unset) << unset.error().message();
  EXPECT_FALSE(unset->vfio_p2p);
  auto bad = parse("vfio: {p2p: maybe}\npayload: {builtin: hello}\n");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message(), HasSubstr("vfio.p2p"));
  EXPECT_THAT(bad.error().message(), HasSubstr("false, true"));
}

TEST(ConfigLoader, RelativePathsResolveAgainstTheSpecsDirectory) {
  test::TempDir dir;
  // A real ELF (the built-in hello) and an existing directory: both are checked at load.
  const std::span<const uint8_t> elf = find_builtin_payload("hello")->image;
  dir.write("guest.elf", std::string(elf.begin(), elf.end()));
  std::filesystem::create_directory(dir.path() + "/out");
  auto config = parse_vm_config("payload: {file: guest.elf}\nserial: {file: out/console.log}\n",
                                "vm.yaml", dir.path(), {});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->payload.file, dir.path() + "/guest.elf");
  EXPECT_EQ(config->payload.format, PayloadFormat::kElf);
  EXPECT_EQ(config->serial.mode, SerialMode::kFile);
  EXPECT_EQ(config->serial.path, dir.path() + "/out/console.log");
}

TEST(ConfigLoader, FlatPayloadsTakeAddressesInAnyNotation) {
  test::TempDir dir;
  dir.write("fw.bin", std::string(16, '\x90'));
  auto config = parse_vm_config(
      "payload: {file: fw.bin, format: flat, load_address: 1M, entry: 0x100004, mode: long}\n",
      "vm.yaml", dir.path(), {});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->payload.load_address, 0x100000u);
  EXPECT_EQ(config->payload.entry, 0x100004u);
  EXPECT_EQ(config->payload.mode, BootMode::kLong);
}

TEST(ConfigLoader, OverridesReplaceValuesAndCreateMissingMappings) {
  auto config = parse("payload: {builtin: hello}\n",
                      {{"memory.size", "32M"}, {"vcpus", "4"}, {"payload", "{builtin: smp}"}});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->memory_size, 32 * kMiB);
  EXPECT_EQ(config->vcpus, 4u);
  EXPECT_EQ(config->payload.builtin, "smp");
}

TEST(ConfigLoader, AnOverriddenValueIsBlamedOnItsOverride) {
  auto config = parse("memory: 64M\npayload: {builtin: hello}\n", {{"memory", "{size: 1K}"}});
  ASSERT_FALSE(config);
  EXPECT_THAT(config.error().message(),
              HasSubstr("--set memory={size: 1K}: memory.size: 1 KiB is outside"));
}

TEST(ConfigLoader, DuplicateKeysAreRefused) {
  auto config = parse("vcpus: 1\nvcpus: 2\npayload: {builtin: hello}\n");
  ASSERT_FALSE(config);
  EXPECT_THAT(config.error().message(), HasSubstr("vm.yaml:2:1: vcpus: appears twice"));
}

TEST(ConfigLoader, NonMappingsAndEmptySpecsAreRefused) {
  EXPECT_THAT(parse("").error().message(), HasSubstr("is empty"));
  EXPECT_THAT(parse("- a\n- b\n").error().message(), HasSubstr("must be a mapping"));
  EXPECT_THAT(parse("payload: hello\n").error().message(),
              HasSubstr("payload: must be a mapping with keys builtin, file"));
  EXPECT_THAT(parse("payload: {builtin: [hello]}\n").error().message(),
              HasSubstr("payload.builtin: must be a non-empty string, not a list"));
}

TEST(ConfigOverride, SplitsKeyAndValueAndRefusesMalformedKeys) {
  auto o = parse_config_override("memory.size=1G");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->key, "memory.size");
  EXPECT_EQ(o->value, "1G");
  EXPECT_EQ(parse_config_override("serial={file: a=b}")->value, "{file: a=b}");
  for (const char* bad : {"novalue", "=1", ".a=1", "a.=1", "a..b=1", "a b=1", "a[0]=1"}) {
    EXPECT_FALSE(parse_config_override(bad)) << bad;
  }
}

}  // namespace
}  // namespace ferry::vmm

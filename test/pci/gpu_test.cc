// GPUs on a host shaped like a multi-GPU server (test/fixtures/sysfs/multi-gpu, made by hand):
// which functions are GPUs, the audio function beside one, the boot display, apertures against
// the guest's windows, and what `ferry devices` and `ferry check` say of them.
#include "ferry/pci/host/gpu.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "command.h"
#include "ferry/base/units.h"
#include "ferry/pci/host/verdict.h"
#include "pci_fixtures.h"

namespace ferry::pci::host {
namespace {

using testing::AllOf;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::Not;

constexpr const char* kDatacenterGpu = "0000:41:00.0";        // 3D controller, 128 GiB BAR1, FLR
constexpr const char* kWorkstationGpu = "0000:61:00.0";       // VGA, 32 GiB BAR1, bus reset only
constexpr const char* kItsAudio = "0000:61:00.1";             // snd_hda_intel, same group
constexpr const char* kBmcDisplay = "0000:02:00.0";           // the host's boot display
constexpr const char* kSecondDatacenterGpu = "0000:81:00.0";  // on the nvidia driver

const Inventory& servers() {
  static const Inventory inventory = *Inventory::scan({test::sysfs_fixture("multi-gpu"), ""});
  return inventory;
}

const HostDevice& device(const char* bdf) {
  const HostDevice* d = servers().find(*Bdf::parse(bdf));
  EXPECT_NE(d, nullptr) << bdf;
  return *d;
}

Verdict judge(const char* bdf, uint64_t ram_top = 4 * kGiB, unsigned phys_bits = 40) {
  return assess(device(bdf), servers(), *GuestWindows::for_guest(ram_top, phys_bits));
}

std::vector<std::string> bdfs(const std::vector<const HostDevice*>& devices) {
  std::vector<std::string> out;
  for (const HostDevice* d : devices) out.push_back(d->bdf.str());
  return out;
}

TEST(Gpu, DisplayClassesAreGpusAndTheirAudioIsNot) {
  EXPECT_TRUE(is_gpu(device(kDatacenterGpu)));   // 0302
  EXPECT_TRUE(is_gpu(device(kWorkstationGpu)));  // 0300
  EXPECT_TRUE(is_gpu(device(kBmcDisplay)));
  EXPECT_FALSE(is_gpu(device(kItsAudio)));       // 0403
  EXPECT_FALSE(is_gpu(device("0000:60:01.1")));  // its root port
}

TEST(Gpu, TheAudioFunctionSitsBesideItsGpu) {
  EXPECT_THAT(bdfs(slot_companions(device(kWorkstationGpu), servers())), ElementsAre(kItsAudio));
  EXPECT_THAT(bdfs(slot_companions(device(kItsAudio), servers())), ElementsAre(kWorkstationGpu));
  EXPECT_TRUE(slot_companions(device(kDatacenterGpu), servers()).empty());
}

TEST(Gpu, CheckNamesTheAudioFunctionToAssignWithIt) {
  const Verdict v = judge(kWorkstationGpu);
  const Check* gpu = v.find("gpu");
  ASSERT_NE(gpu, nullptr);
  EXPECT_EQ(gpu->status, CheckStatus::kPass);
  EXPECT_THAT(gpu->detail,
              AllOf(HasSubstr("a GPU (VGA compatible controller)"),
                    HasSubstr("0000:61:00.1 (Audio device, snd_hda_intel) in its IOMMU group: "
                              "assign it to the same VM"),
                    HasSubstr("no FLR: its bus reset resets the functions beside it too"),
                    HasSubstr("aperture BAR1 32 GiB prefetchable at guest 0x800000000")));
  // The audio function still on its host driver spoils the group.
  ASSERT_NE(v.find("group"), nullptr);
  EXPECT_EQ(v.find("group")->status, CheckStatus::kFail);
  EXPECT_THAT(v.find("group")->detail, HasSubstr("0000:61:00.1 is bound to snd_hda_intel"));
}

TEST(Gpu, AGpuAloneWithFlrIsAssignableAndItsApertureStaysPrefetchable) {
  const Verdict v = judge(kDatacenterGpu);
  EXPECT_EQ(v.summary(), "assignable");
  const Check* gpu = v.find("gpu");
  ASSERT_NE(gpu, nullptr);
  EXPECT_THAT(gpu->detail, AllOf(HasSubstr("a GPU (3D controller)"),
                                 HasSubstr("aperture BAR1 128 GiB prefetchable at guest "
                                           "0x2000000000"),
                                 Not(HasSubstr("beside it")), Not(HasSubstr("no FLR"))));
}

TEST(Gpu, TheHostsBootDisplayIsAWarning) {
  const Verdict v = judge(kBmcDisplay);
  const Check* gpu = v.find("gpu");
  ASSERT_NE(gpu, nullptr);
  EXPECT_EQ(gpu->status, CheckStatus::kWarn);
  EXPECT_THAT(gpu->detail, HasSubstr("the host's boot display"));
  ASSERT_TRUE(gpu->fix);
  EXPECT_THAT(gpu->fix->summary, HasSubstr("leaves the host without its console"));
  EXPECT_EQ(judge(kWorkstationGpu).find("gpu")->status, CheckStatus::kPass);  // boot_vga 0
}

TEST(Gpu, OnlyGpusGetTheCheck) { EXPECT_EQ(judge(kItsAudio).find("gpu"), nullptr); }

TEST(Gpu, AnApertureBeyondTheWindowSaysSo) {
  // 900 GiB of RAM leaves a 40-bit guest 124 GiB above it: no room for a 128 GiB BAR.
  const Verdict v = judge(kDatacenterGpu, 900 * kGiB);
  EXPECT_THAT(v.find("gpu")->detail, HasSubstr("aperture BAR1 128 GiB prefetchable (fits no "
                                               "guest window)"));
  EXPECT_EQ(v.find("bars")->status, CheckStatus::kFail);
}

TEST(Gpu, ApertureOfEveryGpuPackedIntoOneWindow) {
  const std::vector<const HostDevice*> gpus{&device(kDatacenterGpu), &device(kWorkstationGpu),
                                            &device(kSecondDatacenterGpu)};
  // 2 x (128 GiB + 32 MiB) + 32 GiB + 32 MiB, from 128 GiB (the largest BAR's alignment) on.
  const WindowFit fit =
      fit_in_window(gpus, {0x140000000, (uint64_t{1} << 40) - 1}, BarKind::kMemory64);
  EXPECT_EQ(fit.bytes, 288 * kGiB + 96 * kMiB);
  EXPECT_EQ(fit.end, 128 * kGiB + 288 * kGiB + 96 * kMiB - 1);
  EXPECT_TRUE(fit.fits);
  EXPECT_EQ(fit.phys_bits_needed, 39u);
  // A window that ends one byte short of them does not hold them.
  EXPECT_FALSE(fit_in_window(gpus, {0x140000000, fit.end - 1}, BarKind::kMemory64).fits);
  EXPECT_TRUE(fit_in_window(gpus, {0x140000000, fit.end}, BarKind::kMemory64).fits);
}

TEST(Gpu, SeveralGpusCanExhaustThe32BitWindow) {
  const std::vector<const HostDevice*> gpus{&device(kDatacenterGpu), &device(kWorkstationGpu),
                                            &device(kSecondDatacenterGpu)};
  // Three 16 MiB BAR0s and a 512 KiB ROM: 48.5 MiB, which a 32 MiB window cannot hold.
  const WindowFit fit = fit_in_window(gpus, {0xc0000000, 0xc1ffffff}, BarKind::kMemory32);
  EXPECT_EQ(fit.bytes, 48 * kMiB + 512 * kKiB);
  EXPECT_FALSE(fit.fits);
  EXPECT_TRUE(fit_in_window(gpus, {0xc0000000, 0xdfffffff}, BarKind::kMemory32).fits);
}

TEST(GpuCommands, DevicesListsTheGpusAndWhetherTheyFitOneGuest) {
  const std::string tree = test::sysfs_fixture("multi-gpu");
  auto r = test::run_ferry({"devices", "--sysfs", tree});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("GPUs (4):"),
                           HasSubstr("0000:61:00.0  BARs 16 MiB + 32 GiB + 32 MiB; reset bus; "
                                     "with 0000:61:00.1"),
                           HasSubstr("take 288.1 GiB of the guest's 64-bit window "
                                     "0x140000000-0xffffffffff: they fit")));
  auto big = test::run_ferry({"devices", "--sysfs", tree, "--guest-memory", "768G"});
  ASSERT_EQ(big.status, 0) << big.err;
  EXPECT_THAT(big.out, HasSubstr("they do not fit; one guest with all of them needs at least 41 "
                                 "physical address bits"));
}

TEST(GpuCommands, JsonSaysGpuSlotCompanionsAndBootDisplay) {
  auto r = test::run_ferry(
      {"check", "--json", "--sysfs", test::sysfs_fixture("multi-gpu"), kWorkstationGpu});
  ASSERT_EQ(r.status, 3) << r.err;  // not assignable: the audio function is on its host driver
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["gpu"], true);
  EXPECT_EQ(doc["slot_companions"], nlohmann::json::array({kItsAudio}));
  EXPECT_EQ(doc["boot_vga"], false);
  auto bmc = test::run_ferry(
      {"check", "--json", "--sysfs", test::sysfs_fixture("multi-gpu"), kBmcDisplay});
  EXPECT_EQ(nlohmann::json::parse(bmc.out)["boot_vga"], true);
}

}  // namespace
}  // namespace ferry::pci::host

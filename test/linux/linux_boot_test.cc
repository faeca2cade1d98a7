// Linux boots on ferry (ctest -L linux): the kernel the lab itself runs (scripts/lab copies it to
// /lab/vmlinuz: Linux 6.12, scripts/lab-kernel.config) with an initramfs built here from the
// lab's busybox (test/linux/l2), on two vCPUs. Runs inside the lab. Its console shows that the
// setup header, boot_params, the e820 map, the 64-bit entry, the ACPI tables (the MADT's vCPUs
// and IOAPIC, the PCI host bridge, COM1) and the AP start through INIT/SIPI are what Linux
// expects, and `poweroff -f` in the guest (ACPI S5) ends ferry with status 0.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <string>

#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry::test {
namespace {

constexpr const char* kL2 = FERRY_SOURCE_DIR "/test/linux/l2";

// Whether the console has `text`, printed when it has not (the console itself is long).
testing::AssertionResult contains(const std::string& console, const std::string& text) {
  if (console.find(text) != std::string::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "the console has no \"" << text << "\"";
}

// Whether the console lacks `text`, with the line that has it when it does not.
testing::AssertionResult lacks(const std::string& console, const std::string& text) {
  const size_t at = console.find(text);
  if (at == std::string::npos) return testing::AssertionSuccess();
  const size_t begin = console.rfind('\n', at);
  const size_t end = console.find('\n', at);
  return testing::AssertionFailure()
         << "the console has \"" << text << "\": "
         << console.substr(begin == std::string::npos ? 0 : begin + 1,
                           end == std::string::npos ? std::string::npos : end - begin - 1);
}

TEST(LinuxOnFerry, BootsToInitOnTwoVcpusAndPowersOff) {
  TempDir dir;
  const std::string initramfs = dir.path() + "/initramfs.cpio";
  const ProcessResult built =
      run_process({std::string(kL2) + "/build-initramfs", initramfs}, dir.path());
  ASSERT_EQ(built.exit_status, 0) << built.out << built.err;

  const auto started = std::chrono::steady_clock::now();
  Process ferry({FERRY_BINARY, "run", std::string(kL2) + "/l2-linux.yaml", "--set", "devices=[]",
                 "--set", "payload.initrd=" + initramfs, "--set",
                 "payload.cmdline=\"console=ttyS0 panic=-1 ferry.test=boot\""},
                dir.path());
  const ProcessResult r = ferry.wait(std::chrono::minutes(10));
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << r.out << "\nferry's stderr:\n" << r.err << "\nLinux ran for " << seconds << " s\n";
  // The console is above: the expectations below say only what is missing.
  const std::string& console = r.out;
  EXPECT_EQ(r.exit_status, 0) << "ferry's exit status (0: the guest powered off through ACPI S5)";
  EXPECT_TRUE(contains(console, "Linux version 6."));
  EXPECT_TRUE(contains(console, "ACPI: FACP"));  // Linux read ferry's tables
  EXPECT_TRUE(contains(console, "smp: Brought up 1 node, 2 CPUs"));
  EXPECT_TRUE(contains(console, "l2: init running on 2 vCPUs"));
  EXPECT_TRUE(contains(console, "l2: ok"));
  EXPECT_TRUE(lacks(console, "Kernel panic"));
  // CPUID 0xD.0 EBX follows the XCR0 Linux enables (lib/kvm kvm_vcpu.cc set_xcr0): without it
  // Linux WARNs early and runs without AVX.
  EXPECT_TRUE(lacks(console, "XSAVE consistency problem"));
  EXPECT_TRUE(contains(console, "x86/fpu: Enabled xstate features"));
  EXPECT_TRUE(lacks(console, "WARNING:"));  // no kernel WARN of any kind
}

}  // namespace
}  // namespace ferry::test

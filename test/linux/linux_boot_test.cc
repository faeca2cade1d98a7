// A real Linux kernel (the lab's own bzImage, scripts/lab-kernel) booted by `ferry run` on KVM:
// its own console output on ferry's stdout shows that the setup header, boot_params, the e820
// map and the 64-bit entry state are what Linux expects. Without ACPI tables Linux finds no
// timer and stops at TSC calibration, so the test ends once the command line is echoed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "support/kvm_required.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry::test {
namespace {

using ::testing::HasSubstr;

TEST(LinuxOnKvm, TheLabKernelPrintsItsBannerAndCommandLine) {
  FERRY_REQUIRE_KVM();
  ASSERT_TRUE(std::filesystem::exists(FERRY_LINUX_KERNEL))
      << FERRY_LINUX_KERNEL << " is missing; the ctest fixture linux_kernel copies it there";
  TempDir dir;
  const std::string spec = dir.write(
      "linux.yaml", fmt::format("vcpus: 2\nmemory: {{size: 256M}}\npayload:\n  kernel: {}\n"
                                "  cmdline: \"console=ttyS0 panic=-1 ferry-test\"\n",
                                FERRY_LINUX_KERNEL));
  Process ferry({FERRY_BINARY, "run", spec}, dir.path());
  // Nested KVM under TCG is slow: the banner comes after seconds to minutes.
  const bool echoed = ferry.wait_for_output(
      "Kernel command line: console=ttyS0 panic=-1 ferry-test", std::chrono::minutes(4));
  ::kill(ferry.pid(), SIGTERM);
  ProcessResult r = ferry.wait(std::chrono::seconds(30));
  EXPECT_TRUE(echoed) << r.out << r.err;
  // How far Linux got, for whoever reads the log: its last lines.
  size_t tail = r.out.size();
  for (int lines = 0; lines < 12 && tail > 0; ++lines) tail = r.out.rfind('\n', tail - 1);
  std::cout << "Linux's last console lines:\n"
            << r.out.substr(tail == std::string::npos ? 0 : tail);
  EXPECT_THAT(r.out, HasSubstr("Linux version 6."));
  EXPECT_THAT(r.out, HasSubstr("BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] usable"));
  EXPECT_THAT(r.out, HasSubstr("BIOS-e820: [mem 0x00000000000e0000-0x00000000000fffff] reserved"));
}

}  // namespace
}  // namespace ferry::test

// Peer-to-peer DMA between two assigned devices (vfio.p2p, issue 13): runs HERE, not in the lab,
// for the session's two backing files (SESSION/nvme.img behind the lab's NVMe, SESSION/ivshmem.img
// behind the ivshmem's 16 GiB BAR 2). It puts a random pattern into 4 KiB of the NVMe image and
// another into 4 KiB of the ivshmem's memory, has the lab run the nvme-p2p guest with both devices
// assigned (guests/nvme_p2p.c: the NVMe reads LBAs into BAR 2 and writes LBAs from it; the guest
// never touches BAR 2), and checks from outside that each pattern arrived at the other end.
// Legacy container: type1 maps a BAR mmap, so the DMA works. iommufd: it cannot map a BAR (it
// pins pages, and a BAR's mmap has none), so ferry must fail at start with the kernel's error.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/guests/nvmep2p.h"
#include "lab_choice.h"
#include "lab_nvme_image.h"
#include "lab_session.h"

namespace ferry::test {
namespace {

using testing::HasSubstr;
using testing::Not;

constexpr size_t kBytes = FERRY_NVMEP2P_BYTES;
constexpr off_t kReadFrom = off_t{FERRY_NVMEP2P_READ_LBA} * 512;  // in nvme.img (512-byte LBAs)
constexpr off_t kWriteTo = off_t{FERRY_NVMEP2P_WRITE_LBA} * 512;
constexpr off_t kWriteSource = FERRY_NVMEP2P_WRITE_OFFSET;  // in ivshmem.img

std::vector<uint8_t> random_page(std::mt19937_64& random) {
  std::vector<uint8_t> page(kBytes);
  for (size_t i = 0; i < kBytes; i += 8) put_le64(page.data() + i, random());
  return page;
}

struct Files {
  int nvme = -1, ivshmem = -1;
  ~Files() {
    if (nvme >= 0) ::close(nvme);
    if (ivshmem >= 0) ::close(ivshmem);
  }
};

void put(int fd, const std::vector<uint8_t>& data, off_t at) {
  ASSERT_EQ(::pwrite(fd, data.data(), data.size(), at), static_cast<ssize_t>(data.size()))
      << std::strerror(errno);
  ASSERT_EQ(::fsync(fd), 0) << std::strerror(errno);
}

std::vector<uint8_t> get(int fd, off_t at) {
  std::vector<uint8_t> data(kBytes);
  EXPECT_EQ(::pread(fd, data.data(), data.size(), at), static_cast<ssize_t>(data.size()));
  return data;
}

class VfioP2p : public ::testing::Test {
 protected:
  void SetUp() override {
    session_.emplace(session_dir_);
    FERRY_REQUIRE_LAB_SESSION(*session_);
    files_.nvme = ::open((session_dir_ + "/nvme.img").c_str(), O_RDWR | O_CLOEXEC);
    files_.ivshmem = ::open((session_dir_ + "/ivshmem.img").c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(files_.nvme, 0) << "(ctest starts the session: run this test with ctest -L vfio)";
    ASSERT_GE(files_.ivshmem, 0);
    std::random_device seed;
    std::mt19937_64 random(uint64_t{seed()} << 32 | seed());
    from_disk_ = random_page(random);
    from_bar_ = random_page(random);
    // The sources, and both destinations zeroed, so an earlier run's bytes cannot pass.
    const std::vector<uint8_t> zeros(kBytes, 0);
    put(files_.nvme, from_disk_, kReadFrom);
    put(files_.nvme, zeros, kWriteTo);
    put(files_.ivshmem, zeros, 0);
    put(files_.ivshmem, from_bar_, kWriteSource);
  }
  Expected<LabCommandResult> run(const std::string& backend) const {
    return session_->run(
        shell_quote({FERRY_BINARY, "run", FERRY_NVME_P2P_SPEC, "--set", "vfio.backend=" + backend}),
        std::chrono::seconds(900));
  }

  const std::string session_dir_ = vfio_lab_session_dir();
  std::optional<LabSession> session_;
  Files files_;
  std::vector<uint8_t> from_disk_, from_bar_;
};

// vfio.backend legacy, and auto, which p2p makes the legacy container too.
class VfioP2pLegacy : public VfioP2p, public ::testing::WithParamInterface<const char*> {};

TEST_P(VfioP2pLegacy, TheNvmeReadsIntoAndWritesFromTheIvshmemBar) {
  const std::string backend = GetParam();
  const auto started = std::chrono::steady_clock::now();
  auto result = run(backend);
  ASSERT_TRUE(result) << result.error().message();
  std::cout << result->output;
  std::cout << "ferry run took "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
            << " s\n";
  EXPECT_EQ(result->status, 0);
  EXPECT_THAT(result->output, HasSubstr("VFIO: legacy path for 2 devices"));
  if (backend == "auto") {
    EXPECT_THAT(result->output, HasSubstr("(vfio.backend: auto with vfio.p2p: iommufd cannot"));
  }
  EXPECT_THAT(result->output, HasSubstr("nvme: p2p ok"));
  // What the guest read back into its RAM through the NVMe afterwards: the disk's blocks.
  std::ostringstream words;
  words << "first words in RAM: read LBA 0x" << std::hex << get_le64(from_disk_.data())
        << ", written LBA 0x" << get_le64(from_bar_.data());
  EXPECT_THAT(result->output, HasSubstr(words.str()));
  // The NVMe's Read landed in the ivshmem's memory, its Write took the ivshmem's bytes.
  EXPECT_EQ(get(files_.ivshmem, 0), from_disk_) << "the Read's data is not in ivshmem.img";
  EXPECT_EQ(get(files_.nvme, kWriteTo), from_bar_) << "the Write's data is not in nvme.img";
}

INSTANTIATE_TEST_SUITE_P(Backend, VfioP2pLegacy, ::testing::Values("legacy", "auto"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           return std::string(param_info.param);
                         });

TEST_F(VfioP2p, OnIommufdTheStartFailsWithTheKernelsErrorAndTheFix) {
  auto iommufd = session_->run("test -e /dev/iommu", std::chrono::seconds(30));
  ASSERT_TRUE(iommufd) << iommufd.error().message();
  auto result = run("iommufd");
  ASSERT_TRUE(result) << result.error().message();
  std::cout << result->output;
  EXPECT_EQ(result->status, 1);
  if (iommufd->status != 0) {
    // A legacy-only lab kernel (Debian's 6.1): refused before anything is opened.
    EXPECT_THAT(result->output, HasSubstr("this kernel has no iommufd"));
    return;
  }
  EXPECT_THAT(result->output, HasSubstr("VFIO: iommufd path for 2 devices"));
  EXPECT_THAT(result->output, HasSubstr("IOMMU_IOAS_MAP at IOVA"));
  EXPECT_THAT(result->output, HasSubstr("Bad address (errno 14)"));
  EXPECT_THAT(result->output, HasSubstr("vfio.backend: legacy"));
  EXPECT_THAT(result->output, Not(HasSubstr("nvme: found controller"))) << "the guest ran";
  // No DMA happened, and the devices are free for the next VM: the legacy run after it works.
  EXPECT_EQ(get(files_.ivshmem, 0), std::vector<uint8_t>(kBytes, 0));
}

}  // namespace
}  // namespace ferry::test

// A hostile guest with an assigned device (ctest -L hostile, -L vfio): the built-in
// nvme-dma-escape guest points the lab's NVMe (01:00.0, on vfio-pci behind QEMU's emulated
// Intel IOMMU) at addresses outside its RAM: data pointers, PRP lists and queue bases
// (guests/include/ferry/guests/nvmeescape.h). ferry maps only guest RAM into the IOMMU, so every
// such DMA must fault there and reach no memory. Checked from outside the guest:
//  - the lab kernel logged a DMAR fault of 01:00.0 for every address the guest tried;
//  - what the device fetched from outside for a Write, found on the disk, is no memory's data;
//  - ferry kept running and the guest ended normally, with a valid read after every case.
// Runs HERE, like nvme_data_test.cc, because it reads and writes the session's NVMe backing file.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/guests/nvmeescape.h"
#include "lab_choice.h"
#include "lab_nvme_image.h"
#include "lab_session.h"

namespace ferry::test {
namespace {

using testing::HasSubstr;

constexpr size_t kBlock = 512;  // the lab NVMe's LBA size (QEMU's default)
constexpr size_t kPage = 4096;
constexpr uint64_t kLastLba =
    FERRY_NVMEESCAPE_LBA(FERRY_NVMEESCAPE_MAX_CASES) - 1;  // the Write cases' blocks end here

// One escape case as the guest reported it.
struct EscapeCase {
  std::string line;
  uint64_t address = 0;
  bool is_write = false;
  uint64_t lba = 0;       // Write cases: the first block written,
  unsigned pages = 0;     // how many pages,
  unsigned escaping = 0;  // and which of them came from `address`
  std::string outcome;
};

std::vector<EscapeCase> escape_cases(const std::string& output) {
  static const std::regex kLine(
      R"(nvme: escape ([^\n]*?) at (0x[0-9a-f]+)(?: \(LBA (\d+), (\d+) page\(s\), page (\d+) from outside\))?[^:\n]*: ([^\n]*))");
  std::vector<EscapeCase> cases;
  for (auto it = std::sregex_iterator(output.begin(), output.end(), kLine);
       it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    EscapeCase c;
    c.line = m[0];
    c.address = std::stoull(m[2], nullptr, 16);
    c.is_write = m[3].matched;
    if (c.is_write) {
      c.lba = std::stoull(m[3]);
      c.pages = static_cast<unsigned>(std::stoul(m[4]));
      c.escaping = static_cast<unsigned>(std::stoul(m[5]));
    }
    c.outcome = m[6];
    cases.push_back(c);
  }
  return cases;
}

// Whether a case has the device write to its address (else it reads there): a Read's data, a
// completion queue's entries.
bool device_writes(const EscapeCase& c) {
  return c.line.find("Read of") != std::string::npos ||
         c.line.find("completion queue") != std::string::npos;
}

// The DMAR faults the lab kernel logged for the device 01:00.0, counted by page address and
// direction ("Read"/"Write" of the device).
std::map<std::pair<uint64_t, std::string>, int> dmar_faults(const std::string& log) {
  static const std::regex kFault(
      R"(\[DMA (Read|Write)[^\]\n]*\] Request device \[01:00\.0\] fault addr 0x([0-9a-f]+))");
  std::map<std::pair<uint64_t, std::string>, int> faults;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kFault); it != std::sregex_iterator();
       ++it) {
    ++faults[{std::stoull((*it)[2], nullptr, 16) & ~uint64_t{kPage - 1}, (*it)[1]}];
  }
  return faults;
}

TEST(VfioHostileDma, DmaOutsideGuestRamFaultsAtTheIommuAndReachesNoMemory) {
  const std::string session_dir = vfio_lab_session_dir();
  const LabSession session(session_dir);
  FERRY_REQUIRE_LAB_SESSION(session);
  const std::string image = session_dir + "/nvme.img";
  const int fd = ::open(image.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << image << ": " << std::strerror(errno)
                   << " (ctest starts the session: run this test with ctest -L vfio)";

  // LBA 0: the nonce. The Write cases' blocks: a sentinel pattern, so the test sees whether the
  // device wrote them and what with.
  std::random_device random;
  const uint64_t nonce = static_cast<uint64_t>(random()) << 32 | random();
  std::vector<uint8_t> blocks(kBlock * (kLastLba + 1));
  put_le64(blocks.data(), nonce);
  for (uint64_t lba = FERRY_NVMEESCAPE_FIRST_LBA; lba <= kLastLba; ++lba) {
    for (uint64_t word = 0; word < kBlock / 8; ++word) {
      put_le64(blocks.data() + lba * kBlock + word * 8, ferry_nvmecheck_pattern(nonce, lba, word));
    }
  }
  ASSERT_EQ(::pwrite(fd, blocks.data(), blocks.size(), 0), static_cast<ssize_t>(blocks.size()))
      << std::strerror(errno);
  ASSERT_EQ(::fsync(fd), 0) << std::strerror(errno);

  auto before = session.run("dmesg | wc -l", std::chrono::seconds(60));
  ASSERT_TRUE(before) << before.error().message();
  const unsigned log_lines = static_cast<unsigned>(std::stoul(before->output));

  const std::string spec = "/tmp/nvme-dma-escape.yaml";
  // One line (a lab command is one): the spec as a YAML flow mapping.
  const std::string yaml = "{version: 1, name: nvme-dma-escape, vcpus: 1, memory: " +
                           std::to_string(FERRY_NVMEESCAPE_RAM_BYTES >> 20) +
                           "M, payload: {builtin: nvme-dma-escape}, serial: stdout, "
                           "devices: [{vfio: \"0000:01:00.0\"}]}";
  auto result = session.run(shell_quote({"echo", yaml}) + " > " + spec + " && " +
                                shell_quote({FERRY_BINARY, "run", spec}),
                            std::chrono::seconds(900));
  ASSERT_TRUE(result) << result.error().message()
                      << "\n(ctest starts the session: run this test with ctest -L vfio)";
  std::cout << result->output;  // the guest's report, for the test log
  auto after =
      session.run("dmesg | tail -n +" + std::to_string(log_lines + 1), std::chrono::seconds(60));
  ASSERT_TRUE(after) << after.error().message();
  std::cout << "--- the lab kernel's log during the run:\n" << after->output << "---\n";

  // ferry kept running, and the guest ran every case with a valid read after each.
  EXPECT_EQ(result->status, 0);
  const std::vector<EscapeCase> cases = escape_cases(result->output);
  EXPECT_THAT(result->output,
              HasSubstr("nvme: escape: " + std::to_string(cases.size()) + " cases done"));
  ASSERT_GE(cases.size(), 10u) << "the guest reported too few escape cases";
  ASSERT_LE(cases.size(), FERRY_NVMEESCAPE_MAX_CASES);

  // Every case's DMA faulted at the IOMMU: the lab kernel logged a DMAR fault of 01:00.0 at its
  // address in its direction, one per case (the guest paces the cases for Linux's rate limit).
  std::map<std::pair<uint64_t, std::string>, int> faults = dmar_faults(after->output);
  for (const EscapeCase& c : cases) {
    const std::string direction = device_writes(c) ? "Write" : "Read";
    const std::pair<uint64_t, std::string> key{c.address & ~uint64_t{kPage - 1}, direction};
    EXPECT_GT(faults[key]--, 0) << "no DMAR fault (DMA " << direction << ") of 01:00.0 at 0x"
                                << std::hex << c.address
                                << " in the lab kernel's log for this case: " << c.line;
  }
  // What QEMU's IOMMU said about them (its stderr; each kind of message once), for the log.
  std::ifstream qemu_err(session_dir + "/qemu.err");
  for (std::string line; std::getline(qemu_err, line);) {
    if (line.find("vtd_") != std::string::npos || line.find("fault") != std::string::npos) {
      std::cout << "QEMU: " << line << "\n";
    }
  }

  // What a Write fetched from outside did not come from any memory: its blocks are unchanged
  // (the command failed) or hold one byte value repeated (QEMU's fill for a DMA read that
  // faulted); never data.
  std::vector<uint8_t> disk(blocks.size());
  ASSERT_EQ(::pread(fd, disk.data(), disk.size(), 0), static_cast<ssize_t>(disk.size()))
      << std::strerror(errno);
  ::close(fd);
  EXPECT_EQ(get_le64(disk.data()), nonce) << "LBA 0 (the nonce) changed";
  for (const EscapeCase& c : cases) {
    if (!c.is_write) continue;
    ASSERT_LE(c.lba + c.pages * kPage / kBlock, kLastLba + 1) << c.line;
    const uint8_t* page = disk.data() + c.lba * kBlock + c.escaping * kPage;
    const uint64_t first_lba = c.lba + c.escaping * kPage / kBlock;
    bool unchanged = true, uniform = true;
    for (size_t i = 0; i < kPage; i += 8) {
      const uint64_t lba = first_lba + i / kBlock, word = (i % kBlock) / 8;
      unchanged = unchanged && get_le64(page + i) == ferry_nvmecheck_pattern(nonce, lba, word);
    }
    for (size_t i = 0; i < kPage; ++i) uniform = uniform && page[i] == page[0];
    std::cout << "write case at 0x" << std::hex << c.address << std::dec << ", LBA " << first_lba
              << ": the page from outside is "
              << (unchanged ? "unchanged"
                  : uniform ? "one byte repeated"
                            : "DATA")
              << " (0x" << std::hex << get_le64(page) << std::dec << "...); outcome " << c.outcome
              << "\n";
    EXPECT_TRUE(unchanged || uniform)
        << "the device wrote data it fetched from outside guest RAM to the disk: " << c.line
        << "; first word 0x" << std::hex << get_le64(page);
    // The pages that came from guest RAM were written, when the command says it succeeded.
    if (c.outcome != "completed, status 0x0") continue;
    for (unsigned p = 0; p < c.pages; ++p) {
      if (p == c.escaping) continue;
      int wrong = 0;
      for (size_t i = 0; i < kPage; i += 8) {
        const uint64_t lba = c.lba + (p * kPage + i) / kBlock, word = (i % kBlock) / 8;
        const uint64_t got = get_le64(disk.data() + lba * kBlock + (i % kBlock));
        wrong += got != ferry_nvmeescape_guest_word(nonce, lba, word);
      }
      EXPECT_EQ(wrong, 0) << "words of page " << p << " (from guest RAM) not on disk: " << c.line;
    }
  }
}

}  // namespace
}  // namespace ferry::test

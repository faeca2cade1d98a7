// Guest memory on MSHV: the driver's alignment and overlap rules, checked by the backend before
// the kernel sees them, and unmapping with the exact region (host address included).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mshv_backend_test.h"

namespace ferry::test {
namespace {

using namespace mshv;
using ::testing::HasSubstr;

class MshvMemoryTest : public MshvBackendTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(create_vm());
    auto host = Mapping::anonymous(16 * kHvPageSize);
    ASSERT_TRUE(host);
    host_ = std::move(*host);
  }
  void* at(size_t page) { return host_.data() + page * kHvPageSize; }
  size_t set_guest_memory_calls() {
    auto names = fake_.call_names();
    return std::count(names.begin(), names.end(), "MSHV_SET_GUEST_MEMORY");
  }

  Mapping host_;
};

TEST_F(MshvMemoryTest, MapAndUnmap) {
  ASSERT_TRUE(vm_->map_memory(0x100000, 2 * kHvPageSize, at(0), true));
  ASSERT_TRUE(vm_->map_memory(0x200000, kHvPageSize, at(4), false));
  auto regions = fake_.regions();
  ASSERT_EQ(regions.size(), 2u);
  EXPECT_EQ(regions[0].gpa, 0x100000u);
  EXPECT_EQ(regions[0].host, reinterpret_cast<uint64_t>(at(0)));
  EXPECT_EQ(regions[0].flags, kMemWritable | kMemExecutable);
  EXPECT_EQ(regions[1].flags, kMemExecutable) << "read-only memory is still executable";
  // The kernel matches the host address too: a successful unmap proves the backend sent it.
  ASSERT_TRUE(vm_->unmap_memory(0x100000, 2 * kHvPageSize));
  ASSERT_EQ(fake_.regions().size(), 1u);
  auto inexact = vm_->unmap_memory(0x200000, 2 * kHvPageSize);
  ASSERT_FALSE(inexact);
  EXPECT_EQ(inexact.error().code(), Errc::kNotFound);
}

TEST_F(MshvMemoryTest, AlignmentIsCheckedBeforeTheKernel) {
  const size_t before = set_guest_memory_calls();
  for (auto [gpa, size, page_offset] : {std::tuple<uint64_t, uint64_t, size_t>{0x1000, 0, 0},
                                        {0x1000, 100, 0},
                                        {0x1800, kHvPageSize, 0},
                                        {0x1000, kHvPageSize, 8}}) {
    auto mapped = vm_->map_memory(gpa, size, host_.data() + page_offset, true);
    ASSERT_FALSE(mapped);
    EXPECT_EQ(mapped.error().code(), Errc::kInvalidArgument);
    EXPECT_THAT(mapped.error().message(), HasSubstr("4 KiB aligned"));
  }
  auto wraps = vm_->map_memory(~uint64_t{0} - kHvPageSize + 1, 2 * kHvPageSize, at(0), true);
  ASSERT_FALSE(wraps);
  EXPECT_EQ(set_guest_memory_calls(), before);
}

TEST_F(MshvMemoryTest, OverlapsAreRefusedInGuestAndHostSpace) {
  ASSERT_TRUE(vm_->map_memory(0x10000, 2 * kHvPageSize, at(2), true));
  auto gpa = vm_->map_memory(0x11000, kHvPageSize, at(8), true);
  ASSERT_FALSE(gpa);
  EXPECT_EQ(gpa.error().code(), Errc::kExists);
  auto host = vm_->map_memory(0x80000, kHvPageSize, at(3), true);
  ASSERT_FALSE(host);
  EXPECT_THAT(host.error().message(), HasSubstr("at most once"));
  // A region that encloses another: the kernel checks only the ends of the new region, so the
  // backend checks the whole range itself.
  auto enclosing = vm_->map_memory(0xf000, 4 * kHvPageSize, at(10), true);
  ASSERT_FALSE(enclosing);
  EXPECT_EQ(enclosing.error().code(), Errc::kExists);
  EXPECT_EQ(fake_.regions().size(), 1u);
}

}  // namespace
}  // namespace ferry::test

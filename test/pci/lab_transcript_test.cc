// The lab's transcript parser: commands with their output and status, and setup errors kept
// (not dropped), so a lab whose vfio modules failed to load fails the lab test.
#include "lab_transcript.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ferry::test {
namespace {

using ::testing::ElementsAre;

TEST(LabTranscript, KeepsEachCommandsOutputAndStatus) {
  auto t = parse_lab_transcript(
      "@@lab begin 1 echo hi\n@@lab stdout 1 3\nhi\n@@lab stderr 1 0\n@@lab exit 1 0\n"
      "@@lab done\n");
  ASSERT_TRUE(t) << t.error().message();
  ASSERT_NE(t->find("echo hi"), nullptr);
  EXPECT_EQ(t->find("echo hi")->out, "hi\n");
  EXPECT_EQ(t->find("echo hi")->status, 0);
  EXPECT_TRUE(t->done);
  EXPECT_TRUE(t->setup_errors.empty());
}

TEST(LabTranscript, KeepsSetupErrorsWithTheirText) {
  auto t = parse_lab_transcript(
      "@@lab setup-error modprobe vfio_iommu_type1 failed\n"
      "@@lab setup-error binding 0000:03:00.0 to vfio-pci failed\n@@lab done\n");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_THAT(t->setup_errors, ElementsAre("modprobe vfio_iommu_type1 failed",
                                           "binding 0000:03:00.0 to vfio-pci failed"));
}

TEST(LabTranscript, RefusesALineThatIsNotTheLabs) {
  auto t = parse_lab_transcript("@@lab begin 1 true\nkernel noise\n");
  ASSERT_FALSE(t);
  EXPECT_THAT(t.error().message(), ::testing::HasSubstr("'kernel noise' is not a @@lab line"));
}

}  // namespace
}  // namespace ferry::test

// Zydis is loaded on first use (lib/x86/src/zydis_api.h): what a host with and without it gets.
#include "zydis_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ferry::x86 {
namespace {

using ::testing::HasSubstr;

TEST(ZydisApi, LoadsOnceOnThisHost) {
  auto api = zydis();
  ASSERT_TRUE(api) << api.error().message();
  EXPECT_STREQ((*api)->mnemonic_string(ZYDIS_MNEMONIC_MOV), "mov");
  auto again = zydis();
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *api) << "loaded once per process";
}

TEST(ZydisApi, AMissingLibraryNamesThePackageToInstall) {
  auto api = load_zydis("libZydis.so.0.not-installed");
  ASSERT_FALSE(api);
  EXPECT_EQ(api.error().code(), Errc::kUnsupported);
  EXPECT_THAT(api.error().message(), HasSubstr("libZydis.so.0.not-installed"));
  EXPECT_THAT(api.error().message(), HasSubstr("apt-get install libzydis4.0"));
}

TEST(ZydisApi, ALibraryWithoutTheFunctionsIsRefused) {
  auto api = load_zydis("libc.so.6");
  ASSERT_FALSE(api);
  EXPECT_THAT(api.error().message(), HasSubstr("lacks a function"));
  EXPECT_THAT(api.error().message(), HasSubstr("ZydisDecoderInit"));
}

}  // namespace
}  // namespace ferry::x86

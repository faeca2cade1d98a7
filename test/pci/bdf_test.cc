#include "ferry/pci/host/bdf.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ferry::pci::host {
namespace {

using testing::HasSubstr;

TEST(Bdf, ParsesWithAndWithoutDomain) {
  auto full = Bdf::parse("0000:01:00.0");
  ASSERT_TRUE(full) << full.error().message();
  EXPECT_EQ(*full, (Bdf{0, 1, 0, 0}));
  auto short_form = Bdf::parse("05:1f.7");
  ASSERT_TRUE(short_form);
  EXPECT_EQ(*short_form, (Bdf{0, 5, 0x1f, 7}));
  auto upper = Bdf::parse("10000:AB:0C.3");  // VMD domains are wider than 16 bits
  ASSERT_TRUE(upper);
  EXPECT_EQ(*upper, (Bdf{0x10000, 0xab, 0x0c, 3}));
}

TEST(Bdf, FormatsAsSysfsNamesIt) {
  EXPECT_EQ((Bdf{0, 1, 0, 0}).str(), "0000:01:00.0");
  EXPECT_EQ((Bdf{0x10000, 0xab, 0x1f, 7}).str(), "10000:ab:1f.7");
  EXPECT_EQ(Bdf::parse("3:02:01.1")->str(), "0003:02:01.1");
}

TEST(Bdf, OrdersByDomainBusDeviceFunction) {
  EXPECT_LT((Bdf{0, 1, 0, 0}), (Bdf{0, 1, 0, 1}));
  EXPECT_LT((Bdf{0, 1, 0x1f, 7}), (Bdf{0, 2, 0, 0}));
  EXPECT_LT((Bdf{0, 0xff, 0, 0}), (Bdf{1, 0, 0, 0}));
}

TEST(Bdf, RejectsMalformedTextNamingItAndTheForm) {
  for (const char* text :
       {"", "01:00", "1:00.0", "0000:01:00", "0000:01:00.8", "00:20.0", "0000:01:00.0 ", "zz:00.0",
        "0000:01:000.0", "0000-01-00.0", "123456789:00:00.0"}) {
    auto parsed = Bdf::parse(text);
    ASSERT_FALSE(parsed) << "'" << text << "' parsed as " << parsed->str();
    EXPECT_EQ(parsed.error().code(), Errc::kInvalidArgument);
    EXPECT_THAT(parsed.error().message(), HasSubstr(std::string("'") + text + "'"));
    EXPECT_THAT(parsed.error().message(), HasSubstr("e.g. 0000:01:00.0"));
  }
}

}  // namespace
}  // namespace ferry::pci::host

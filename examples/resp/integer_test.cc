// examples/resp/integer_test.cc: Redis's canonical integer syntax, accepted and refused.
#include "examples/resp/integer.h"

#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace examples::resp {
namespace {

TEST(ParseInt64Test, AcceptsCanonicalDecimals) {
  int64_t v = 7;
  ASSERT_TRUE(ParseInt64("0", &v));
  EXPECT_EQ(v, 0);
  ASSERT_TRUE(ParseInt64("42", &v));
  EXPECT_EQ(v, 42);
  ASSERT_TRUE(ParseInt64("-17", &v));
  EXPECT_EQ(v, -17);
  ASSERT_TRUE(ParseInt64("9223372036854775807", &v));
  EXPECT_EQ(v, std::numeric_limits<int64_t>::max());
  ASSERT_TRUE(ParseInt64("-9223372036854775808", &v));
  EXPECT_EQ(v, std::numeric_limits<int64_t>::min());
}

TEST(ParseInt64Test, RefusesWhatRedisRefuses) {
  int64_t v = 0;
  for (const char* text :
       {"", "-", "+1", " 1", "1 ", "01", "-0", "-01", "00", "1.0", "1e3", "0x10", "abc",
        "9223372036854775808", "-9223372036854775809", "18446744073709551616",
        "92233720368547758080", "99999999999999999999", "123456789012345678901"}) {
    EXPECT_FALSE(ParseInt64(text, &v)) << '"' << text << '"';
  }
  EXPECT_FALSE(ParseInt64(std::string("1\0", 2), &v));
}

TEST(AppendInt64Test, WritesTheCanonicalFormThatParsesBack) {
  for (int64_t value : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{1234567890123},
                        std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    std::string out = "x";
    AppendInt64(value, &out);
    int64_t back = 0;
    ASSERT_TRUE(ParseInt64(std::string_view(out).substr(1), &back)) << out;
    EXPECT_EQ(back, value);
  }
  std::string out;
  AppendInt64(std::numeric_limits<int64_t>::min(), &out);
  EXPECT_EQ(out, "-9223372036854775808");
}

}  // namespace
}  // namespace examples::resp

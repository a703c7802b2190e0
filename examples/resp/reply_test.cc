// examples/resp/reply_test.cc: RESP2 encodings of every reply kind.
#include "examples/resp/reply.h"

#include <string>

#include "gtest/gtest.h"

namespace examples::resp {
namespace {

using namespace std::string_literals;

TEST(ReplyTest, EncodesEachKind) {
  std::string out;
  AppendSimple("OK", &out);
  AppendInteger(-42, &out);
  AppendBulk(std::string("a\0b", 3), &out);
  AppendBulk("", &out);
  AppendNil(&out);
  AppendArrayHeader(2, &out);
  AppendError("ERR syntax error", &out);
  EXPECT_EQ(out, "+OK\r\n:-42\r\n$3\r\na\0b\r\n$0\r\n\r\n$-1\r\n*2\r\n-ERR syntax error\r\n"s);
}

TEST(ReplyTest, ErrorKeepsToOneLineWhenItQuotesClientBytes) {
  std::string out = "+OK\r\n";  // earlier replies are left alone
  AppendError("ERR unknown command 'a\r\nb'", &out);
  EXPECT_EQ(out, "+OK\r\n-ERR unknown command 'a  b'\r\n");
}

}  // namespace
}  // namespace examples::resp

// examples/resp/request_parser_test.cc: both request grammars, resumption, every
// protocol error and every limit, with Redis 7.0's wording.
#include "examples/resp/request_parser.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace examples::resp {
namespace {

using namespace std::string_literals;

// Parsed: the outcome of parsing a whole input in one call.
struct Parsed {
  ParseStatus status;
  size_t consumed = 0;
  std::vector<std::string> args;
  std::string error;
};

Parsed ParseOnce(RequestParser& parser, std::string_view input) {
  const ParseResult r = parser.Parse(input);
  Parsed p{r.status, r.consumed, {}, std::string(parser.error())};
  for (std::string_view a : parser.args()) p.args.emplace_back(a);
  return p;
}

Parsed ParseOnce(std::string_view input, const ParserLimits& limits = {}) {
  RequestParser parser(limits);
  return ParseOnce(parser, input);
}

std::vector<std::string> Args(std::initializer_list<std::string> list) { return list; }

TEST(RequestParserTest, MultibulkRequestPointsIntoTheInput) {
  const std::string input = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
  RequestParser parser({});
  const ParseResult r = parser.Parse(input);
  ASSERT_EQ(r.status, ParseStatus::kRequest);
  EXPECT_EQ(r.consumed, input.size());
  ASSERT_EQ(parser.args().size(), 2u);
  EXPECT_EQ(parser.args()[0], "GET");
  EXPECT_EQ(parser.args()[1].data(), input.data() + 17);  // no copy of the payload
}

TEST(RequestParserTest, BinarySafeBulkStrings) {
  const Parsed p = ParseOnce("*2\r\n$4\r\nECHO\r\n$6\r\na\r\n\0b\n\r\n"s);
  ASSERT_EQ(p.status, ParseStatus::kRequest);
  EXPECT_EQ(p.args, Args({"ECHO", "a\r\n\0b\n"s}));
}

TEST(RequestParserTest, PipelinedRequestsComeOneAtATime) {
  const std::string input = "*1\r\n$4\r\nPING\r\nECHO hi\r\n*1\r\n$4\r\nPI";
  RequestParser parser({});
  Parsed p = ParseOnce(parser, input);
  ASSERT_EQ(p.status, ParseStatus::kRequest);
  EXPECT_EQ(p.args, Args({"PING"}));
  const std::string_view rest = std::string_view(input).substr(p.consumed);
  p = ParseOnce(parser, rest);
  ASSERT_EQ(p.status, ParseStatus::kRequest);
  EXPECT_EQ(p.args, Args({"ECHO", "hi"}));
  p = ParseOnce(parser, rest.substr(p.consumed));
  EXPECT_EQ(p.status, ParseStatus::kIncomplete);
}

TEST(RequestParserTest, EveryPrefixIsIncompleteAndResumesToTheSameRequest) {
  for (const std::string& request :
       {"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"s, "SET k \"a b\" 'c'\r\n"s, "PING\n"s,
        "*0\r\n"s, "*1\r\n$0\r\n\r\n"s}) {
    RequestParser parser({});
    for (size_t n = 0; n < request.size(); ++n) {
      // Each call sees the same start plus one more byte, as a connection feeds it.
      ASSERT_EQ(parser.Parse(std::string_view(request).substr(0, n)).status,
                ParseStatus::kIncomplete)
          << request << " at " << n;
    }
    const Parsed resumed = ParseOnce(parser, request);
    const Parsed whole = ParseOnce(request);
    ASSERT_EQ(resumed.status, ParseStatus::kRequest) << request;
    EXPECT_EQ(resumed.consumed, request.size());
    EXPECT_EQ(resumed.args, whole.args);
  }
}

TEST(RequestParserTest, EmptyRequestsHaveNoArguments) {
  for (const char* input : {"*0\r\n", "*-1\r\n", "*-7\r\n", "\r\n", "\n", "   \t \r\n"}) {
    const Parsed p = ParseOnce(input);
    ASSERT_EQ(p.status, ParseStatus::kRequest) << input;
    EXPECT_TRUE(p.args.empty());
    EXPECT_EQ(p.consumed, std::string_view(input).size());
  }
}

TEST(RequestParserTest, InlineSplitsOnBlanksAndTakesBareLf) {
  EXPECT_EQ(ParseOnce("  PING   x  \r\n").args, Args({"PING", "x"}));
  EXPECT_EQ(ParseOnce("ECHO\ta\n").args, Args({"ECHO", "a"}));
  EXPECT_EQ(ParseOnce("ECHO a\rb\r\n").args, Args({"ECHO", "a", "b"}));
  // \v and \f are skipped between arguments but do not end one (C's isspace vs the
  // tokenizer's own set, as in Redis).
  EXPECT_EQ(ParseOnce("ECHO \va\vb\r\n").args, Args({"ECHO", "a\vb"}));
}

TEST(RequestParserTest, InlineQuotesAndEscapes) {
  EXPECT_EQ(ParseOnce(R"(ECHO "a\x41\n\t\"z" x)"
                      "\r\n")
                .args,
            Args({"ECHO", "aA\n\t\"z", "x"}));
  EXPECT_EQ(ParseOnce(R"(ECHO "\xzz" "\x4" "a\q" "\\" "\r\b\a")"
                      "\r\n")
                .args,
            Args({"ECHO", "xzz", "x4", "aq", "\\", "\r\b\a"}));
  EXPECT_EQ(ParseOnce(R"(ECHO "\xff\x00")"
                      "\r\n")
                .args,
            Args({"ECHO", "\xff\0"s}));
  EXPECT_EQ(ParseOnce(R"(ECHO 'a\nb' 'a\'b')"
                      "\r\n")
                .args,
            Args({"ECHO", "a\\nb", "a'b"}));
  EXPECT_EQ(ParseOnce("ECHO \"\" ''\r\n").args, Args({"ECHO", "", ""}));
  EXPECT_EQ(ParseOnce("ECHO a\"b c\"\r\n").args, Args({"ECHO", "ab c"}));  // quote mid-word
  EXPECT_EQ(ParseOnce("ECHO \"a\"\vb\r\n").args, Args({"ECHO", "a", "b"}));
}

TEST(RequestParserTest, UnbalancedQuotesAreAProtocolError) {
  for (const char* input : {"ECHO \"abc\r\n", "ECHO \"a\"b\r\n", "ECHO 'a\\'\r\n", "ECHO 'a'b\r\n",
                            "ECHO \"a\\\"\r\n"}) {
    const Parsed p = ParseOnce(input);
    EXPECT_EQ(p.status, ParseStatus::kProtocolError) << input;
    EXPECT_EQ(p.error, "Protocol error: unbalanced quotes in request") << input;
  }
}

TEST(RequestParserTest, MalformedMultibulkHeadersWithRedisWording) {
  const std::string too_many = "*" + std::to_string(ParserLimits{}.max_args + 1) + "\r\n";
  const std::pair<std::string, std::string> cases[] = {
      {"*x\r\n", "Protocol error: invalid multibulk length"},
      {"*01\r\n", "Protocol error: invalid multibulk length"},
      {"*+1\r\n", "Protocol error: invalid multibulk length"},
      {"*1 \r\n", "Protocol error: invalid multibulk length"},
      {"*\r\n", "Protocol error: invalid multibulk length"},
      {"*1\n$4\r\n", "Protocol error: invalid multibulk length"},
      {too_many, "Protocol error: invalid multibulk length"},
      {"*2\r\n+a\r\n", "Protocol error: expected '$', got '+'"},
      {"*1\r\n\r\n", "Protocol error: expected '$', got '\r'"},
      {"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$abc\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$ 4\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$04\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$\r\n", "Protocol error: invalid bulk length"},
  };
  for (const auto& [input, error] : cases) {
    const Parsed p = ParseOnce(input);
    EXPECT_EQ(p.status, ParseStatus::kProtocolError) << input;
    EXPECT_EQ(p.error, error) << input;
  }
}

TEST(RequestParserTest, SkipsTheBytesRedisSkipsUnread) {
  // The byte after a header's CR and the two after a payload are not checked.
  EXPECT_EQ(ParseOnce("*1\rX$4\r\nPING\r\n").args, Args({"PING"}));
  EXPECT_EQ(ParseOnce("*1\r\n$4\rXPINGxx").args, Args({"PING"}));
  // But they must have arrived.
  EXPECT_EQ(ParseOnce("*1\r\n$4\r\nPING\r").status, ParseStatus::kIncomplete);
  EXPECT_EQ(ParseOnce("*1\r").status, ParseStatus::kIncomplete);
}

TEST(RequestParserTest, LineLimitIsInclusiveAndIndependentOfArrival) {
  ParserLimits limits;
  limits.max_line_bytes = 16;
  // 16 bytes before the LF (the CR counts): accepted. 17: too big.
  EXPECT_EQ(ParseOnce("ECHO 0123456789\r\n", limits).args, Args({"ECHO", "0123456789"}));
  EXPECT_EQ(ParseOnce("ECHO 01234567890\r\n", limits).error,
            "Protocol error: too big inline request");
  // Decided as soon as 17 bytes hold no LF, before the line ends.
  EXPECT_EQ(ParseOnce("ECHO 012345678901", limits).error, "Protocol error: too big inline request");
  EXPECT_EQ(ParseOnce("ECHO 01234567890", limits).status, ParseStatus::kIncomplete);
  // Header lines: the '*' or '$' counts, the CR may be the 17th byte.
  EXPECT_EQ(ParseOnce("*000000000000001", limits).status, ParseStatus::kIncomplete);
  EXPECT_EQ(ParseOnce("*0000000000000001", limits).error,
            "Protocol error: too big mbulk count string");
  EXPECT_EQ(ParseOnce("*1\r\n$0000000000000001", limits).error,
            "Protocol error: too big bulk count string");
  EXPECT_EQ(ParseOnce("*1\r\n$000000000000000\r\n", limits).error,
            "Protocol error: invalid bulk length");
}

TEST(RequestParserTest, BulkAndArgumentLimits) {
  ParserLimits limits;
  limits.max_bulk_bytes = 5;
  limits.max_args = 2;
  EXPECT_EQ(ParseOnce("*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n", limits).status, ParseStatus::kRequest);
  EXPECT_EQ(ParseOnce("*2\r\n$4\r\nECHO\r\n$6\r\n", limits).error,
            "Protocol error: invalid bulk length");
  EXPECT_EQ(ParseOnce("*3\r\n", limits).error, "Protocol error: invalid multibulk length");
}

TEST(RequestParserTest, RequestOverItsByteLimitIsRefusedWhenItsSizeIsAnnounced) {
  ParserLimits limits;
  limits.max_request_bytes = 32;
  // "*2\r\n$4\r\nECHO\r\n$NN\r\n" is 19 bytes before the payload; NN + 2 more must fit.
  EXPECT_EQ(ParseOnce("*2\r\n$4\r\nECHO\r\n$11\r\n", limits).status, ParseStatus::kIncomplete);
  EXPECT_EQ(ParseOnce("*2\r\n$4\r\nECHO\r\n$12\r\n", limits).status, ParseStatus::kRequestTooLarge);
}

TEST(RequestParserTest, StartsAfreshAfterAnError) {
  RequestParser parser({});
  EXPECT_EQ(ParseOnce(parser, "*1\r\n$x\r\n").status, ParseStatus::kProtocolError);
  EXPECT_EQ(ParseOnce(parser, "PING\r\n").args, Args({"PING"}));
}

}  // namespace
}  // namespace examples::resp

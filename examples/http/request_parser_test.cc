// examples/http/request_parser_test.cc: the request head grammar, persistence rules,
// every refusal with its status, and limits at their boundaries.
#include "examples/http/request_parser.h"

#include <string>

#include "gtest/gtest.h"

namespace examples::http {
namespace {

using namespace std::string_literals;

struct Parsed {
  ParseStatus status;
  size_t consumed = 0;
  Request request;
  int error = 0;
  bool error_is_head = false;
};

Parsed ParseOnce(std::string_view input, const ParserLimits& limits = {}) {
  RequestParser parser(limits);
  const ParseResult r = parser.Parse(input);
  return {r.status, r.consumed, parser.request(), parser.error_status(), parser.error_is_head()};
}

int ErrorOf(std::string_view input, const ParserLimits& limits = {}) {
  const Parsed p = ParseOnce(input, limits);
  return p.status == ParseStatus::kError ? p.error : 0;
}

TEST(HttpRequestParserTest, ParsesAGetWithItsPathAndNoBody) {
  const std::string input = "GET /healthz?verbose=1 HTTP/1.1\r\nHost: a\r\n\r\nNEXT";
  const Parsed p = ParseOnce(input);
  ASSERT_EQ(p.status, ParseStatus::kRequest);
  EXPECT_EQ(p.consumed, input.size() - 4);
  EXPECT_EQ(p.request.method, "GET");
  EXPECT_EQ(p.request.target, "/healthz?verbose=1");
  EXPECT_EQ(p.request.path, "/healthz");
  EXPECT_EQ(p.request.minor_version, 1);
  EXPECT_TRUE(p.request.keep_alive);
  EXPECT_EQ(p.request.content_length, 0u);
  EXPECT_FALSE(p.request.expect_continue);
}

TEST(HttpRequestParserTest, TargetForms) {
  EXPECT_EQ(ParseOnce("GET http://example.com/a/b?c HTTP/1.1\r\nHost: x\r\n\r\n").request.path,
            "/a/b");
  EXPECT_EQ(ParseOnce("GET HTTPS://example.com HTTP/1.1\r\nHost: x\r\n\r\n").request.path, "/");
  EXPECT_EQ(ParseOnce("GET http://example.com?q HTTP/1.1\r\nHost: x\r\n\r\n").request.path, "/");
  EXPECT_EQ(ParseOnce("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").request.path, "*");
  EXPECT_EQ(ErrorOf("GET example.com:80 HTTP/1.1\r\nHost: x\r\n\r\n"), 400);  // authority form
  EXPECT_EQ(ErrorOf("GET http:///a HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET /a\x80 HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
}

TEST(HttpRequestParserTest, RequestLineShape) {
  for (const char* line : {"GET  / HTTP/1.1", "GET / HTTP/1.1 ", "GET /", " GET / HTTP/1.1",
                           "GET\t/ HTTP/1.1", "G(T / HTTP/1.1", "GET / HTTP/1.10", "GET / http/1.1",
                           "GET / HTTP/1", "GET / HTTP/x.1", "GET /\rx HTTP/1.1"}) {
    EXPECT_EQ(ErrorOf(std::string(line) + "\r\nHost: x\r\n\r\n"), 400) << line;
  }
  EXPECT_EQ(ErrorOf("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
  EXPECT_EQ(ErrorOf("GET / HTTP/0.9\r\n\r\n"), 505);
  EXPECT_EQ(ParseOnce("GET / HTTP/1.2\r\nHost: x\r\n\r\n").request.minor_version, 1);
  EXPECT_EQ(ParseOnce("get / HTTP/1.1\r\nHost: x\r\n\r\n").request.method, "get");  // a token
}

TEST(HttpRequestParserTest, PersistenceFollowsVersionAndConnectionField) {
  EXPECT_TRUE(ParseOnce("GET / HTTP/1.1\r\nHost: x\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(
      ParseOnce("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(ParseOnce("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade,  CLOSE \r\n\r\n")
                   .request.keep_alive);
  EXPECT_FALSE(ParseOnce("GET / HTTP/1.1\r\nHost: x\r\nConnection: a\r\nConnection: close\r\n\r\n")
                   .request.keep_alive);
  EXPECT_TRUE(
      ParseOnce("GET / HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(ParseOnce("GET / HTTP/1.0\r\n\r\n").request.keep_alive);
  EXPECT_TRUE(ParseOnce("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(
      ParseOnce("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").request.keep_alive);
}

TEST(HttpRequestParserTest, HostIsRequiredOnceIn11AndAtMostOnceIn10) {
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.0\r\n\r\n"), 0);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
}

TEST(HttpRequestParserTest, ContentLength) {
  EXPECT_EQ(
      ParseOnce("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n").request.content_length,
      12u);
  EXPECT_EQ(ParseOnce("POST / HTTP/1.1\r\nHost: x\r\ncontent-length:\t007 \r\n\r\n")
                .request.content_length,
            7u);
  EXPECT_EQ(
      ParseOnce("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n")
          .request.content_length,
      5u);
  for (const char* value : {"", "-1", "+1", "1 2", "1,1", "0x10", "1.0"}) {
    EXPECT_EQ(ErrorOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "s + value + "\r\n\r\n"), 400)
        << value;
  }
  EXPECT_EQ(ErrorOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            400);
  ParserLimits limits;
  limits.max_body_bytes = 100;
  EXPECT_EQ(ErrorOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", limits), 0);
  EXPECT_EQ(ErrorOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", limits), 413);
  EXPECT_EQ(
      ErrorOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
              limits),
      413);
}

TEST(HttpRequestParserTest, TransferEncodingIsNotImplemented) {
  EXPECT_EQ(ErrorOf("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"), 501);
  EXPECT_EQ(ErrorOf("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n"
                    "Content-Length: 3\r\n\r\n"),
            501);
}

TEST(HttpRequestParserTest, Expect) {
  EXPECT_TRUE(ParseOnce("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\n\r\n")
                  .request.expect_continue);
  EXPECT_EQ(ErrorOf("POST / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n"), 417);
}

TEST(HttpRequestParserTest, MalformedFieldsAreBadRequests) {
  for (const std::string& field :
       {"Host : x"s, " folded"s, "\tfolded"s, "NoColon"s, ": empty-name"s, "Na me: x"s, "X: a\rb"s,
        "X: a\0b"s, "X: \x01"s, "X: \x7f"s, "(X): y"s}) {
    EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: x\r\n" + field + "\r\n\r\n"), 400) << field;
  }
  // Allowed: HTAB and obs-text in values, an empty value, any token as a name.
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: x\r\nX: a\tb\xff\r\nY:\r\n!#$%&'*+-.^_`|~: z\r\n\r\n"),
            0);
}

TEST(HttpRequestParserTest, BareLfEndsLinesAndLeadingEmptyLinesAreSkipped) {
  const Parsed p = ParseOnce("GET / HTTP/1.1\nHost: x\n\n");
  EXPECT_EQ(p.status, ParseStatus::kRequest);
  EXPECT_EQ(p.consumed, 24u);
  EXPECT_EQ(ParseOnce("GET / HTTP/1.1\r\nHost: x\n\r\n").consumed, 26u);
  EXPECT_EQ(ParseOnce("\r\nGET").status, ParseStatus::kEmptyLine);
  EXPECT_EQ(ParseOnce("\r\nGET").consumed, 2u);
  EXPECT_EQ(ParseOnce("\nGET").consumed, 1u);
  EXPECT_EQ(ParseOnce("\r").status, ParseStatus::kIncomplete);
  EXPECT_EQ(ErrorOf("\rGET / HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
}

TEST(HttpRequestParserTest, EveryPrefixIsIncompleteAndResumesToTheSameHead) {
  const std::string input = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n";
  RequestParser parser({});
  for (size_t n = 0; n < input.size(); ++n) {
    ASSERT_EQ(parser.Parse(std::string_view(input).substr(0, n)).status, ParseStatus::kIncomplete)
        << n;
  }
  const ParseResult r = parser.Parse(input);
  ASSERT_EQ(r.status, ParseStatus::kRequest);
  EXPECT_EQ(r.consumed, input.size());
  EXPECT_EQ(parser.request().content_length, 3u);
  EXPECT_EQ(parser.request().path, "/x");
}

TEST(HttpRequestParserTest, RequestLineLimitIsInclusiveAndDecidedEarly) {
  ParserLimits limits;
  limits.max_request_line_bytes = 20;
  limits.max_head_bytes = 64;
  const std::string fits = "GET /" + std::string(6, 'a') + " HTTP/1.1";  // 20 bytes
  ASSERT_EQ(fits.size(), 20u);
  EXPECT_EQ(ErrorOf(fits + "\r\nHost: x\r\n\r\n", limits), 0);
  EXPECT_EQ(ErrorOf("GET /" + std::string(7, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", limits), 414);
  // Decided once 22 bytes hold no LF, before the line ends.
  EXPECT_EQ(ErrorOf(std::string(22, 'G'), limits), 414);
  EXPECT_EQ(ParseOnce(std::string(21, 'G'), limits).status, ParseStatus::kIncomplete);
}

TEST(HttpRequestParserTest, HeadLimitAndFieldCount) {
  ParserLimits limits;
  limits.max_request_line_bytes = 20;
  limits.max_head_bytes = 64;
  limits.max_header_fields = 3;
  const std::string line = "GET / HTTP/1.1\r\n";  // 16 bytes
  const std::string host = "Host: x\r\n";         // 9
  // 16 + 9 + 37 + 2 = 64: exactly at the limit.
  const std::string pad = "X: " + std::string(32, 'p') + "\r\n";
  ASSERT_EQ((line + host + pad + "\r\n").size(), 64u);
  EXPECT_EQ(ErrorOf(line + host + pad + "\r\n", limits), 0);
  const std::string more = "X: " + std::string(33, 'p') + "\r\n";
  EXPECT_EQ(ErrorOf(line + host + more + "\r\n", limits), 431);
  // Decided once 64 bytes hold no end of head, before the end arrives.
  EXPECT_EQ(ParseOnce(line + host + more, limits).status, ParseStatus::kIncomplete);  // 63
  EXPECT_EQ(ErrorOf(line + host + more + "\r", limits), 431);
  EXPECT_EQ(ErrorOf(line + host + "A: 1\r\nB: 2\r\n\r\n", limits), 0);
  EXPECT_EQ(ErrorOf(line + host + "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits), 431);
}

TEST(HttpRequestParserTest, ErrorsAfterAHeadRequestLineSayHead) {
  const Parsed p = ParseOnce("HEAD / HTTP/1.1\r\n\r\n");  // no Host
  EXPECT_EQ(p.error, 400);
  EXPECT_TRUE(p.error_is_head);
  EXPECT_FALSE(ParseOnce("GET / HTTP/1.1\r\n\r\n").error_is_head);
  RequestParser parser({});
  ASSERT_EQ(parser.Parse("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n").status, ParseStatus::kRequest);
  ASSERT_EQ(parser.Parse("GET / HTTP/9.9\r\n\r\n").status, ParseStatus::kError);
  EXPECT_FALSE(parser.error_is_head());  // not the previous request's method
}

}  // namespace
}  // namespace examples::http
